//! Names of enumerations (kinds, statuses, transports, events, agency types, missed
//! deadlines): one table per type, its strum attributes, from which come `Display`,
//! `FromStr`, `as_str` and serde.

/// Defines a field-less enum whose variants have one name each (strum attributes:
/// `serialize_all`, `serialize`), with `Display`, `FromStr`, `as_str`, serde and SQLite
/// text by that one table. Using crates depend on `strum` (its derives name it), `serde`
/// and `sqlx`.
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

        impl sqlx::Type<sqlx::Sqlite> for $name {
            fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
                <&str as sqlx::Type<sqlx::Sqlite>>::type_info()
            }
        }

        impl sqlx::Encode<'_, sqlx::Sqlite> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut Vec<sqlx::sqlite::SqliteArgumentValue<'_>>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Sqlite>>::encode(self.as_str(), buf)
            }
        }

        impl sqlx::Decode<'_, sqlx::Sqlite> for $name {
            fn decode(
                value: sqlx::sqlite::SqliteValueRef<'_>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(<&str as sqlx::Decode<sqlx::Sqlite>>::decode(value)?.parse()?)
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
