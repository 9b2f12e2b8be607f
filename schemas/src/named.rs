//! Names of enumerations (kinds, statuses, transports, events, agency types, missed
//! deadlines): one table per type, its strum attributes, from which come `Display`,
//! `FromStr`, `as_str` and serde.

/// Defines a field-less enum whose variants have one name each (strum attributes:
/// `serialize_all`, `serialize`), with `Display`, `FromStr`, `as_str` and serde by that
/// one table. Using crates depend on `strum` (its derives name it) and `serde`.
#[macro_export]
macro_rules! named {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($body:tt)* }) => {
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            PartialOrd,
            Ord,
            Hash,
            strum::Display,
            strum::EnumString,
            strum::IntoStaticStr,
            strum::VariantNames,
        )]
        $(#[$meta])*
        $vis enum $name { $($body)* }

        impl $name {
            /// The name, as stored, sent and shown.
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let name = String::deserialize(d)?;
                name.parse().map_err(|_| {
                    serde::de::Error::unknown_variant(
                        &name,
                        <$name as strum::VariantNames>::VARIANTS,
                    )
                })
            }
        }
    };
}
