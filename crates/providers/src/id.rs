//! Typed, prefixed identifiers (`evt_0190…`): one newtype over a UUID v7 per entity, so an event
//! id can never be passed where a delivery id is expected, and ids sort by creation time.
//!
//! [`typed_id!`](crate::typed_id) is exported so other crates can define their own.

/// Why a string is not a valid typed id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expected an id starting with {expected_prefix} followed by 32 lowercase hex characters")]
pub struct IdError {
    /// The prefix the id type requires, e.g. `"evt_"`.
    pub expected_prefix: &'static str,
    /// The name of the id type, e.g. `"EventId"`.
    pub type_name: &'static str,
}

/// Defines a typed id: a `Copy` newtype over [`uuid::Uuid`] whose text form is `prefix` followed by
/// the UUID as 32 lowercase hex digits (`evt_0190b2c4d5e6f7a8b9c0d1e2f3a4b5c6`).
///
/// The type gets `new` (UUID v7, so ids sort by creation time), `from_uuid`, `uuid`, a `PREFIX`
/// constant, `Display` and `Debug` (both the text form), `FromStr` (exact prefix, 32 lowercase
/// hex digits), serde as the text form, and `Clone`, `Copy`, `PartialEq`, `Eq`, `Hash`,
/// `PartialOrd`, `Ord`, and a utoipa schema of the text form.
///
/// ```ignore
/// providers::typed_id!(
///     /// A webhook endpoint of a partner.
///     EndpointId, "ep_"
/// );
/// ```
#[macro_export]
macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name($crate::__private::uuid::Uuid);

        #[allow(
            clippy::new_without_default,
            reason = "a fresh id is not a default value; `new` reads the clock"
        )]
        impl $name {
            /// The text prefix of this id type.
            pub const PREFIX: &str = $prefix;

            /// A fresh id: a UUID v7, so ids created later sort after ids created earlier.
            pub fn new() -> Self {
                Self($crate::__private::uuid::Uuid::now_v7())
            }

            /// Wraps an existing UUID, e.g. one read back from storage.
            pub const fn from_uuid(uuid: $crate::__private::uuid::Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside, e.g. to store it in a `uuid` column.
            pub const fn uuid(&self) -> $crate::__private::uuid::Uuid {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(Self::PREFIX)?;
                ::std::fmt::Display::fmt(&self.0.simple(), f)
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(self, f)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::id::IdError;

            fn from_str(input: &str) -> ::std::result::Result<Self, $crate::id::IdError> {
                $crate::id::parse_prefixed_uuid(input, Self::PREFIX, stringify!($name)).map(Self)
            }
        }

        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S>(&self, serializer: S) -> ::std::result::Result<S::Ok, S::Error>
            where
                S: $crate::__private::serde::Serializer,
            {
                serializer.collect_str(self)
            }
        }

        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
            where
                D: $crate::__private::serde::Deserializer<'de>,
            {
                let text: ::std::borrow::Cow<'de, str> =
                    $crate::__private::serde::Deserialize::deserialize(deserializer)?;
                text.parse().map_err(<D::Error as $crate::__private::serde::de::Error>::custom)
            }
        }

        impl $crate::__private::utoipa::PartialSchema for $name {
            fn schema() -> $crate::__private::utoipa::openapi::RefOr<
                $crate::__private::utoipa::openapi::schema::Schema,
            > {
                $crate::id::id_schema(Self::PREFIX)
            }
        }

        impl $crate::__private::utoipa::ToSchema for $name {
            fn name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(stringify!($name))
            }
        }
    };
}

/// The schema of a typed id's text form: `prefix` and 32 lowercase hex digits. Used by
/// [`typed_id!`](crate::typed_id).
#[doc(hidden)]
pub fn id_schema(prefix: &'static str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!("^{prefix}[0-9a-f]{{32}}$")))
        .examples([format!("{prefix}0190b2c4d5e67f8a9b0c1d2e3f4a5b6c")])
        .into()
}

/// Parses `prefix` followed by exactly 32 lowercase hex digits. Used by [`typed_id!`](crate::typed_id).
#[doc(hidden)]
pub fn parse_prefixed_uuid(
    input: &str,
    prefix: &'static str,
    type_name: &'static str,
) -> Result<uuid::Uuid, IdError> {
    let error = IdError {
        expected_prefix: prefix,
        type_name,
    };
    let Some(hex) = input.strip_prefix(prefix) else {
        return Err(error);
    };
    let is_lower_hex = |byte: &u8| byte.is_ascii_digit() || (b'a'..=b'f').contains(byte);
    if hex.len() != 32 || !hex.as_bytes().iter().all(is_lower_hex) {
        return Err(error);
    }
    uuid::Uuid::try_parse(hex).map_err(|_| error)
}

typed_id!(
    /// A normalized event stored by the gateway.
    EventId,
    "evt_"
);
typed_id!(
    /// A partner's webhook subscription.
    SubscriptionId,
    "sub_"
);
typed_id!(
    /// One event to deliver to one subscription.
    DeliveryId,
    "dlv_"
);
typed_id!(
    /// An API key of an internal service.
    ApiKeyId,
    "key_"
);
typed_id!(
    /// A verified inbound webhook that could not be normalized, kept for inspection.
    QuarantineId,
    "qua_"
);
typed_id!(
    /// One HTTP attempt of a delivery.
    AttemptId,
    "att_"
);
typed_id!(
    /// A bulk replay of events to subscriptions.
    ReplayId,
    "rpl_"
);
typed_id!(
    /// One item (expected or observed movement) of the reconciliation.
    ReconciliationItemId,
    "rcn_"
);

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;
    use uuid::Uuid;

    use crate::id::{
        ApiKeyId, AttemptId, DeliveryId, EventId, IdError, QuarantineId, ReconciliationItemId,
        ReplayId, SubscriptionId,
    };

    const UUID_HEX: &str = "0190b2c4d5e67f8a9b0c1d2e3f4a5b6c";

    #[test]
    fn display_is_prefix_and_lowercase_hex() {
        let id = EventId::from_uuid(Uuid::try_parse(UUID_HEX).unwrap());
        assert_eq!(id.to_string(), format!("evt_{UUID_HEX}"));
        assert_eq!(format!("{id:?}"), format!("evt_{UUID_HEX}"));
        assert_eq!(EventId::PREFIX, "evt_");
    }

    #[test]
    fn text_form_round_trips() {
        let id = DeliveryId::new();
        let parsed: DeliveryId = id.to_string().parse().unwrap();
        assert_eq!(parsed, id);
        assert_eq!(parsed.uuid(), id.uuid());
    }

    #[test]
    fn wrong_prefix_is_rejected() {
        let error = format!("sub_{UUID_HEX}").parse::<EventId>().unwrap_err();
        assert_eq!(
            error,
            IdError {
                expected_prefix: "evt_",
                type_name: "EventId"
            }
        );
        assert_eq!(
            error.to_string(),
            "expected an id starting with evt_ followed by 32 lowercase hex characters"
        );
        assert!(UUID_HEX.parse::<EventId>().is_err());
        assert!(format!("EVT_{UUID_HEX}").parse::<EventId>().is_err());
    }

    #[test]
    fn uppercase_hex_is_rejected() {
        let upper = UUID_HEX.to_ascii_uppercase();
        assert!(format!("evt_{upper}").parse::<EventId>().is_err());
    }

    #[test]
    fn wrong_length_or_hyphenated_uuids_are_rejected() {
        let hyphenated = Uuid::try_parse(UUID_HEX).unwrap().hyphenated().to_string();
        for input in [
            format!("evt_{hyphenated}"),
            format!("evt_{}", &UUID_HEX[1..]),
            format!("evt_{UUID_HEX}0"),
            format!("evt_{UUID_HEX} "),
            "evt_".to_owned(),
            String::new(),
        ] {
            assert!(input.parse::<EventId>().is_err(), "{input}");
        }
    }

    #[test]
    fn ids_created_in_sequence_sort_in_creation_order() {
        let ids: Vec<EventId> = (0..1000).map(|_| EventId::new()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids);
        let texts: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let mut sorted_texts = texts.clone();
        sorted_texts.sort();
        assert_eq!(sorted_texts, texts);
        assert_eq!(ids[0].uuid().get_version_num(), 7);
    }

    #[test]
    fn serde_uses_the_text_form() {
        let id = ReplayId::from_uuid(Uuid::try_parse(UUID_HEX).unwrap());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"rpl_{UUID_HEX}\""));
        let back: ReplayId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        let value: ReplayId =
            serde_json::from_value(serde_json::json!(json.trim_matches('"'))).unwrap();
        assert_eq!(value, id);
        assert!(serde_json::from_str::<ReplayId>(&format!("\"evt_{UUID_HEX}\"")).is_err());
    }

    #[test]
    fn every_id_type_has_a_distinct_prefix() {
        let prefixes = [
            EventId::PREFIX,
            SubscriptionId::PREFIX,
            DeliveryId::PREFIX,
            ApiKeyId::PREFIX,
            QuarantineId::PREFIX,
            AttemptId::PREFIX,
            ReplayId::PREFIX,
            ReconciliationItemId::PREFIX,
        ];
        let unique: HashSet<&str> = prefixes.into_iter().collect();
        assert_eq!(unique.len(), prefixes.len());
        assert_eq!(ReconciliationItemId::new().to_string().len(), 4 + 32);
    }

    #[allow(
        unreachable_pub,
        dead_code,
        reason = "the macro generates a public API that this private test module only samples"
    )]
    mod elsewhere {
        crate::typed_id!(
            /// An id defined outside the `id` module, with nothing imported.
            WidgetId,
            "wdg_"
        );
    }

    #[test]
    fn the_macro_defines_ids_in_any_module() {
        let id = elsewhere::WidgetId::new();
        assert!(id.to_string().starts_with("wdg_"));
        let json = serde_json::to_string(&id).unwrap();
        let back: elsewhere::WidgetId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert_eq!(
            "evt_0190b2c4d5e67f8a9b0c1d2e3f4a5b6c"
                .parse::<elsewhere::WidgetId>()
                .unwrap_err()
                .type_name,
            "WidgetId"
        );
    }

    proptest! {
        #[test]
        fn any_uuid_round_trips_through_text(bytes in any::<[u8; 16]>()) {
            let id = AttemptId::from_uuid(Uuid::from_bytes(bytes));
            let text = id.to_string();
            prop_assert_eq!(text.parse::<AttemptId>().unwrap(), id);
            prop_assert!(text.parse::<QuarantineId>().is_err());
        }
    }
}
