//! Names of enumerations (kinds, statuses, transports, events, agency types): one table per
//! type, its strum attributes, from which come `Display`, `FromStr`, `as_str` and serde.

/// Gives each listed type (deriving strum's `Display`, `EnumString`, `IntoStaticStr` and
/// `VariantNames`) an `as_str` and a serde form by that one name table.
#[macro_export]
macro_rules! named {
    ($($t:ty),* $(,)?) => {$(
        impl $t {
            /// The name, as stored, sent and shown.
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }

        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let name = String::deserialize(d)?;
                name.parse().map_err(|_| {
                    serde::de::Error::unknown_variant(
                        &name,
                        <$t as $crate::strum::VariantNames>::VARIANTS,
                    )
                })
            }
        }
    )*};
}
