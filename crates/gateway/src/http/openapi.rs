//! What the OpenAPI document says about every operation beyond its own annotations: the bearer
//! scheme, the `Idempotency-Key` header's exact syntax, and the problem+json errors that the
//! layers in front of a handler answer with.
//!
//! A handler's annotation documents its own outcomes (`201`, `404` for an unknown id, a provider's
//! `409`...). The statuses that come from the shared layers (authentication, idempotency, body and
//! query extraction, the timeout, the database, the provider client) are the same for every
//! operation of a kind, so they are added here, from the operation's shape, rather than repeated
//! on sixty annotations that would drift. Every error body is `application/problem+json`.

use std::collections::BTreeMap;

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayItems, Object, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response};

use providers::idempotency::{
    MAX_LENGTH as IDEMPOTENCY_KEY_MAX_LENGTH, PATTERN as IDEMPOTENCY_KEY_PATTERN,
};

/// The media type of every error body (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Adds the `api_key` bearer scheme.
pub struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("pgk_...")
                    .build(),
            ),
        );
    }
}

/// Documents the shared layers' errors on every operation, as problem+json.
pub struct SharedResponses;

/// What an operation looks like, for deciding which shared layers can answer it.
struct Shape {
    authenticated: bool,
    idempotent_post: bool,
    has_body: bool,
    has_query: bool,
    has_path: bool,
    calls_provider: bool,
    webhook_intake: bool,
}

/// No text anywhere in the API may hold U+0000 (Postgres text cannot store it; the extractors
/// refuse it): every free-form string schema says so with a pattern.
pub const NO_NUL_PATTERN: &str = "^[^\\u0000]*$";

/// Text with at least one character that is not white space (as `str::trim` sees it), and no
/// U+0000.
pub const NON_BLANK_PATTERN: &str = "^[^\\u0000]*[^\\u0000\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$";

/// The rules the handlers enforce on text that take a shared pattern, by schema and property:
/// kept here, next to the patterns, because an annotation can only hold a literal. A property
/// that is an array gets the pattern on its items. `openapi_rules_name_real_properties` checks
/// that every entry names a property that exists. The query parameter `type` of `GET
/// /v1/events` is an event pattern too.
pub const TEXT_RULES: &[(&str, &str, TextRule)] = &[
    ("CreateCustomerRequest", "name", NON_BLANK),
    ("OpenAccountRequest", "name", NON_BLANK),
    ("UploadDocumentRequest", "kind", NON_BLANK),
    ("DocumentUploadRequest", "content_base64", NON_BLANK),
    ("NewApiKey", "name", NON_BLANK),
    ("NewSubscriptionBody", "event_types", EVENT_PATTERN),
    ("SubscriptionPatchBody", "event_types", EVENT_PATTERN),
    ("ReplayRequest", "event_types", EVENT_PATTERN),
];

/// A pattern, and a maximum length when the rule has one.
pub type TextRule = (&'static str, Option<usize>);

const NON_BLANK: TextRule = (NON_BLANK_PATTERN, None);
const EVENT_PATTERN: TextRule = (
    providers::EventPattern::PATTERN,
    Some(providers::EventPattern::MAX_LENGTH),
);

impl utoipa::Modify for SharedResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            constrain_components(&mut components.schemas);
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (&mut item.get, false),
                (&mut item.put, false),
                (&mut item.post, true),
                (&mut item.delete, false),
                (&mut item.patch, false),
            ];
            for (operation, is_post) in operations {
                if let Some(operation) = operation.as_mut() {
                    document_operation(path, operation, is_post);
                }
            }
        }
    }
}

/// The shared text rules of [`TEXT_RULES`], then no U+0000 in any request or answer schema but
/// the error bodies (which quote what the client sent, a field name holding U+0000 included).
fn constrain_components(schemas: &mut BTreeMap<String, RefOr<Schema>>) {
    for (schema_name, property, rule) in TEXT_RULES {
        if let Some(RefOr::T(Schema::Object(object))) = schemas.get_mut(*schema_name)
            && let Some(RefOr::T(schema)) = object.properties.get_mut(*property)
        {
            set_rule(schema, *rule);
        }
    }
    for (name, schema) in schemas.iter_mut() {
        if let RefOr::T(schema) = schema
            && name != "Problem"
            && name != "FieldProblem"
        {
            forbid_nul(schema);
        }
    }
}

/// One operation: its parameters' and inline bodies' rules, then the shared layers' errors.
fn document_operation(path: &str, operation: &mut Operation, is_post: bool) {
    let shape = shape_of(path, operation, is_post);
    for parameter in operation.parameters.iter_mut().flatten() {
        let Some(RefOr::T(schema)) = parameter.schema.as_mut() else {
            continue;
        };
        if path == "/v1/events" && parameter.name == "type" {
            set_rule(schema, EVENT_PATTERN);
        }
        forbid_nul(schema);
    }
    for content in operation
        .request_body
        .iter_mut()
        .flat_map(|body| body.content.values_mut())
    {
        if let Some(RefOr::T(schema)) = content.schema.as_mut() {
            forbid_nul(schema);
        }
    }
    constrain_idempotency_key(operation);
    retag_problems(operation);
    for (status, description) in shared_statuses(&shape) {
        add_problem(operation, status, &description);
    }
}

fn shape_of(path: &str, operation: &Operation, is_post: bool) -> Shape {
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let has = |location: ParameterIn| {
        parameters
            .iter()
            .any(|parameter| parameter.parameter_in == location)
    };
    let tagged = |names: &[&str]| {
        operation
            .tags
            .iter()
            .flatten()
            .any(|tag| names.contains(&tag.as_str()))
    };
    let authenticated = path.starts_with("/v1/");
    Shape {
        authenticated,
        idempotent_post: authenticated && is_post,
        has_body: operation.request_body.is_some(),
        has_query: has(ParameterIn::Query),
        has_path: has(ParameterIn::Path),
        calls_provider: tagged(&["credit", "banking", "providers"]),
        webhook_intake: path.starts_with("/webhooks/"),
    }
}

/// The statuses the shared layers can answer this operation with, and their codes.
fn shared_statuses(shape: &Shape) -> Vec<(&'static str, String)> {
    let mut statuses: Vec<(&'static str, &str)> = Vec::new();
    let mut bad_request = Vec::new();
    if shape.has_query {
        bad_request.push("`invalid_query`");
    }
    if shape.has_path {
        bad_request.push("`invalid_path`");
    }
    if shape.has_body {
        bad_request.push("`malformed_body`");
    }
    if shape.idempotent_post {
        bad_request.push("`idempotency_key_required`, `idempotency_key_invalid`");
    }
    let bad_request = bad_request.join(", ");
    if !bad_request.is_empty() {
        statuses.push(("400", &bad_request));
    }
    if shape.authenticated {
        statuses.push((
            "401",
            "`api_key_missing`, `api_key_invalid` or `api_key_revoked`",
        ));
        statuses.push(("403", "`insufficient_scope`"));
    }
    if shape.webhook_intake {
        statuses.push(("401", "the webhook failed verification"));
        statuses.push(("404", "`unknown_provider`"));
    }
    if shape.has_path || shape.calls_provider {
        statuses.push(("404", "`not_found`, or the provider's `provider_not_found`"));
    }
    statuses.push(("408", "`request_timeout`"));
    if shape.idempotent_post || shape.calls_provider {
        statuses.push((
            "409",
            "`idempotency_key_reused`, `idempotency_key_in_use`, or the provider's `provider_conflict`",
        ));
    }
    if shape.has_body || shape.webhook_intake {
        statuses.push(("413", "`payload_too_large`"));
    }
    if shape.has_body && !shape.webhook_intake {
        statuses.push(("415", "`unsupported_media_type`: send `application/json`"));
        statuses.push(("422", "`validation_failed`, with the fields in `errors`"));
    }
    if shape.calls_provider {
        statuses.push(("422", "the provider's `provider_rejected`"));
        statuses.push((
            "502",
            "`provider_unavailable`, `provider_invalid_response` or `provider_unauthorized`",
        ));
        statuses.push(("504", "`provider_timeout`"));
    }
    statuses.push((
        "500",
        "`internal_error`; the request id names it in the logs",
    ));
    statuses.push((
        "503",
        "`database_unavailable`, `provider_rate_limited` or `capability_unavailable`; see `retry_after`",
    ));
    statuses
        .into_iter()
        .map(|(status, codes)| (status, codes.to_owned()))
        .collect()
}

/// Error bodies that an annotation documented as `application/json` are problem+json.
fn retag_problems(operation: &mut Operation) {
    for response in operation.responses.responses.values_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if let Some(content) = response.content.shift_remove("application/json") {
            let is_problem = matches!(
                &content.schema,
                Some(RefOr::Ref(reference)) if reference.ref_location.ends_with("/Problem")
            );
            let media_type = if is_problem {
                PROBLEM_JSON
            } else {
                "application/json"
            };
            response.content.insert(media_type.to_owned(), content);
        }
    }
}

/// Adds `status` with a problem+json body, or, when the annotation has it, makes sure it lists
/// problem+json among its bodies (a status can be both a success and an error, never here).
fn add_problem(operation: &mut Operation, status: &str, codes: &str) {
    let responses = &mut operation.responses.responses;
    match responses.get_mut(status) {
        Some(RefOr::T(response)) => {
            if !response.content.contains_key(PROBLEM_JSON) {
                response
                    .content
                    .insert(PROBLEM_JSON.to_owned(), problem_content());
            }
            if !response.description.contains(codes) {
                response.description = match response.description.is_empty() {
                    true => codes.to_owned(),
                    false => format!("{}; {codes}", response.description),
                };
            }
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            let mut response = Response::new(codes);
            response
                .content
                .insert(PROBLEM_JSON.to_owned(), problem_content());
            responses.insert(status.to_owned(), RefOr::T(response));
        }
    }
}

fn problem_content() -> Content {
    Content::new(Some(Ref::from_schema_name("Problem")))
}

/// `Idempotency-Key` is 1 to 255 visible ASCII characters: the schema says so, so that a client
/// (and a contract test) knows which keys are valid.
fn constrain_idempotency_key(operation: &mut Operation) {
    for parameter in operation.parameters.iter_mut().flatten() {
        if parameter.parameter_in == ParameterIn::Header
            && parameter.name.eq_ignore_ascii_case("idempotency-key")
        {
            parameter.schema = Some(RefOr::T(Schema::Object(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(IDEMPOTENCY_KEY_MAX_LENGTH))
                    .pattern(Some(IDEMPOTENCY_KEY_PATTERN))
                    .build(),
            )));
        }
    }
}

/// Adds [`NO_NUL_PATTERN`] to every string schema in `schema` that has no format, enum or
/// pattern of its own.
fn forbid_nul(schema: &mut Schema) {
    match schema {
        Schema::Object(object) => {
            if is_free_text(object) {
                object.pattern = Some(NO_NUL_PATTERN.to_owned());
            }
            for property in object.properties.values_mut() {
                if let RefOr::T(property) = property {
                    forbid_nul(property);
                }
            }
            if let Some(AdditionalProperties::RefOr(RefOr::T(values))) =
                object.additional_properties.as_deref_mut()
            {
                forbid_nul(values);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items
                && let RefOr::T(items) = items.as_mut()
            {
                forbid_nul(items);
            }
        }
        Schema::OneOf(one_of) => one_of.items.iter_mut().for_each(forbid_nul_in),
        Schema::AllOf(all_of) => all_of.items.iter_mut().for_each(forbid_nul_in),
        Schema::AnyOf(any_of) => any_of.items.iter_mut().for_each(forbid_nul_in),
        _ => {}
    }
}

fn forbid_nul_in(schema: &mut RefOr<Schema>) {
    if let RefOr::T(schema) = schema {
        forbid_nul(schema);
    }
}

fn is_free_text(object: &Object) -> bool {
    let is_string = match &object.schema_type {
        SchemaType::Type(kind) => *kind == Type::String,
        SchemaType::Array(kinds) => kinds.contains(&Type::String),
        SchemaType::AnyValue => false,
    };
    is_string && object.format.is_none() && object.enum_values.is_none() && object.pattern.is_none()
}

/// Sets the rule on a string schema, or on the items of an array schema.
fn set_rule(schema: &mut Schema, (pattern, max_length): TextRule) {
    let text = match schema {
        Schema::Object(object) => object,
        Schema::Array(array) => match &mut array.items {
            ArrayItems::RefOrSchema(items) => match items.as_mut() {
                RefOr::T(Schema::Object(items)) => items,
                _ => return,
            },
            ArrayItems::False => return,
        },
        _ => return,
    };
    text.pattern = Some(pattern.to_owned());
    if max_length.is_some() {
        text.max_length = max_length;
    }
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi as _;
    use utoipa::openapi::schema::{ArrayItems, Schema};
    use utoipa::openapi::{RefOr, path::ParameterIn};

    use super::{PROBLEM_JSON, TEXT_RULES};
    use crate::http::ApiDoc;

    #[test]
    fn openapi_rules_name_real_properties_and_set_their_pattern() {
        let document = ApiDoc::openapi();
        let schemas = &document.components.as_ref().unwrap().schemas;
        for (schema_name, property, (pattern, _)) in TEXT_RULES {
            let Some(RefOr::T(Schema::Object(object))) = schemas.get(*schema_name) else {
                panic!("no schema {schema_name}");
            };
            let found = match object.properties.get(*property) {
                Some(RefOr::T(Schema::Object(text))) => text.pattern.clone(),
                Some(RefOr::T(Schema::Array(array))) => match &array.items {
                    ArrayItems::RefOrSchema(items) => match items.as_ref() {
                        RefOr::T(Schema::Object(text)) => text.pattern.clone(),
                        _ => None,
                    },
                    _ => None,
                },
                _ => panic!("{schema_name} has no property {property}"),
            };
            assert_eq!(found.as_deref(), Some(*pattern), "{schema_name}.{property}");
        }
    }

    #[test]
    fn every_error_status_of_every_operation_is_problem_json() {
        let document = ApiDoc::openapi();
        for (path, item) in &document.paths.paths {
            for operation in [&item.get, &item.post, &item.put, &item.patch, &item.delete]
                .into_iter()
                .flatten()
            {
                assert!(operation.responses.responses.contains_key("500"), "{path}");
                for (status, response) in &operation.responses.responses {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    if status.starts_with('4') || status.starts_with('5') {
                        if path == "/readyz" && status == "503" {
                            continue;
                        }
                        assert!(
                            response.content.contains_key(PROBLEM_JSON),
                            "{path} {status} is not problem+json"
                        );
                    }
                }
                let posts_with_key = operation.parameters.iter().flatten().any(|parameter| {
                    parameter.parameter_in == ParameterIn::Header
                        && parameter.name == "Idempotency-Key"
                });
                if posts_with_key {
                    assert!(operation.responses.responses.contains_key("409"), "{path}");
                }
            }
        }
    }
}
