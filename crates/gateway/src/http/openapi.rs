//! What the OpenAPI document says about every operation beyond its own annotations: the bearer
//! scheme, the `Idempotency-Key` header's exact syntax, and the problem+json errors that the
//! layers in front of a handler answer with.
//!
//! A handler's annotation documents its own outcomes (`201`, `404` for an unknown id, a provider's
//! `409`...). The statuses that come from the shared layers (authentication, idempotency, body and
//! query extraction, the timeout, the database, the provider client) are the same for every
//! operation of a kind, so they are added here, from the operation's shape, rather than repeated
//! on sixty annotations that would drift. Every error body is `application/problem+json`.
//!
//! [`EventWebhooks`] adds the event catalogue as the document's `webhooks`: what the gateway sends
//! partners, one typed operation per event type.

use std::collections::BTreeMap;

use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, ArrayItems, Object, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Required, Response};

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

/// The providers compiled in ([`crate::catalog`]), described in the document's introduction and on
/// every `{provider}` path parameter, from each provider's own description.
pub struct ProviderCatalogue;

impl utoipa::Modify for ProviderCatalogue {
    fn modify(&self, openapi: &mut OpenApi) {
        let descriptions = crate::catalog::descriptions();
        let lines: Vec<String> = descriptions
            .iter()
            .map(|description| {
                let capabilities: Vec<&str> = description
                    .capabilities
                    .iter()
                    .map(|capability| capability.as_str())
                    .collect();
                format!(
                    "- `{}`: {} (capabilities: {}; webhooks authenticated by {}{})",
                    description.name,
                    description.summary,
                    capabilities.join(", "),
                    description.webhook_authentication.as_str(),
                    if description.webhook_authentication.is_weak() {
                        ", so money-moving events are confirmed by fetch before they are published"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        let intro = openapi.info.description.get_or_insert_with(String::new);
        intro.push_str("\n\nProviders compiled into this gateway (`routing.credit` and `routing.banking` choose among them):\n");
        intro.push_str(&lines.join("\n"));
        let names: Vec<String> = descriptions
            .iter()
            .map(|description| format!("`{}`", description.name))
            .collect();
        let parameter_description = format!("The provider: one of {}.", names.join(", "));
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                for parameter in operation.parameters.iter_mut().flatten() {
                    if parameter.name == "provider" && parameter.parameter_in == ParameterIn::Path {
                        parameter.description = Some(parameter_description.clone());
                    }
                }
            }
        }
    }
}

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

/// Publishes the event catalogue as the document's top-level `webhooks` (OpenAPI 3.1): one `post`
/// per event type, whose body is the v1 event (`EventBody`) with `type` fixed and `data` that
/// type's schema, signed with the Standard Webhooks headers. The data schemas
/// (`providers::data_schemas`, derived from the types that serialize the data) become components,
/// and each type's body is a component of its own (`LoanActiveEvent`), so a partner's generator
/// produces a typed receiver per type.
///
/// utoipa 5's `OpenApi` has no `webhooks` field: the section goes into the document's flattened
/// extensions map, whose keys serialize at the top level of the document.
pub struct EventWebhooks;

/// The Standard Webhooks headers of every delivery, and what each holds.
const WEBHOOK_HEADERS: [(&str, &str, Option<&str>); 3] = [
    (
        "webhook-id",
        "The event id (`evt_...`): the same on every redelivery and replay of the event, so \
         dedupe on it.",
        Some("^evt_[0-9a-f]{32}$"),
    ),
    (
        "webhook-timestamp",
        "When the delivery was signed, in Unix seconds; refuse one too far from your clock.",
        Some("^[0-9]+$"),
    ),
    (
        "webhook-signature",
        "Space-separated signatures of `{webhook-id}.{webhook-timestamp}.{body}`: `v1,<base64>` \
         (HMAC-SHA256 with the `whsec_` secret) or `v1a,<base64>` (Ed25519, verified with the \
         `whpk_` public key); during a rotation one per key. Accept the delivery when any verifies.",
        None,
    ),
];

impl utoipa::Modify for EventWebhooks {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, schema) in providers::data_schemas() {
            components.schemas.entry(name).or_insert(schema);
        }
        let event_body = match components.schemas.get("EventBody") {
            Some(RefOr::T(Schema::Object(body))) => body.clone(),
            _ => ObjectBuilder::new().schema_type(Type::Object).build(),
        };
        let mut webhooks = serde_json::Map::new();
        for doc in providers::event_catalogue() {
            let component = event_component_name(&doc.name);
            components.schemas.insert(
                component.clone(),
                RefOr::T(Schema::Object(typed_event_body(&event_body, &doc))),
            );
            let item = PathItem::new(HttpMethod::Post, webhook_operation(&doc, &component));
            webhooks.insert(
                doc.name,
                serde_json::to_value(item).unwrap_or(serde_json::Value::Null),
            );
        }
        openapi
            .extensions
            .get_or_insert_with(Default::default)
            .insert("webhooks".to_owned(), serde_json::Value::Object(webhooks));
    }
}

/// The component of one type's event body: `loan.active` → `LoanActiveEvent`,
/// `{provider}.unrecognized` → `UnrecognizedEvent`.
pub fn event_component_name(event_type: &str) -> String {
    let mut name: String = event_type
        .split(['.', '_', '-'])
        .filter(|word| !word.starts_with('{'))
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    name.push_str("Event");
    name
}

/// `EventBody` with `type` fixed to this type (a pattern for the unrecognized family) and `data`
/// this type's schema, with the type's example.
fn typed_event_body(event_body: &Object, doc: &providers::EventTypeDoc) -> Object {
    let mut body = event_body.clone();
    body.description = Some(format!("`{}`: {}", doc.name, doc.description));
    let event_type = match doc.name == providers::UNRECOGNIZED_FAMILY {
        true => ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(UNRECOGNIZED_TYPE_PATTERN)),
        false => ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([doc.name.as_str()])),
    };
    body.properties.insert(
        "type".to_owned(),
        RefOr::T(Schema::Object(
            event_type
                .description(Some("Gateway taxonomy name."))
                .build(),
        )),
    );
    let data = AllOfBuilder::new()
        .item(Ref::from_schema_name(doc.data_schema_name.clone()))
        .description(Some("The event's data."))
        .examples([doc.example.to_json()])
        .build();
    body.properties
        .insert("data".to_owned(), RefOr::T(Schema::AllOf(data)));
    body
}

/// `<provider>.unrecognized`, with the syntax of a provider name.
const UNRECOGNIZED_TYPE_PATTERN: &str = "^[a-z][a-z0-9-]{0,31}\\.unrecognized$";

fn webhook_operation(doc: &providers::EventTypeDoc, component: &str) -> Operation {
    let content = Content::new(Some(Ref::from_schema_name(component)));
    let body = RequestBodyBuilder::new()
        .description(Some(format!("A `{}` event.", doc.name)))
        .content("application/json", content)
        .required(Some(Required::True))
        .build();
    let mut operation = OperationBuilder::new()
        .operation_id(Some(format!("receive_{component}")))
        .summary(Some(format!("`{}`", doc.name)))
        .description(Some(doc.description))
        .tag("webhooks to partners")
        .request_body(Some(body))
        .response(
            "2XX",
            Response::new("Received: the delivery is done (the body is not read)."),
        )
        .response(
            "410",
            Response::new(
                "Gone: the gateway stops and disables the subscription (a \
                 `subscription.disabled` event follows).",
            ),
        )
        .response(
            "default",
            Response::new(
                "Anything else, or no answer in time, is retried with backoff (honouring \
                 `Retry-After`) until the retry schedule runs out.",
            ),
        );
    for (name, description, pattern) in WEBHOOK_HEADERS {
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(pattern);
        operation = operation.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Header)
                .required(Required::True)
                .description(Some(description))
                .schema(Some(schema)),
        );
    }
    operation.build()
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
    fn every_operation_id_is_unique_so_generated_clients_have_one_method_each() {
        let document = ApiDoc::openapi();
        let mut seen = std::collections::BTreeMap::new();
        for (path, item) in &document.paths.paths {
            let operations = [&item.get, &item.post, &item.put, &item.patch, &item.delete];
            for operation in operations.into_iter().flatten() {
                let id = operation.operation_id.clone().unwrap_or_default();
                assert!(!id.is_empty(), "{path} has an operation without an id");
                if let Some(other) = seen.insert(id.clone(), path.clone()) {
                    panic!("operation id {id} is both {other} and {path}");
                }
            }
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

    fn document_json() -> serde_json::Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap()
    }

    #[test]
    fn every_event_type_is_a_webhook_whose_body_is_the_v1_event_with_its_own_data() {
        let document = document_json();
        let catalogue = providers::event_catalogue();
        assert_eq!(
            document["webhooks"].as_object().unwrap().len(),
            catalogue.len()
        );
        for doc in catalogue {
            let post = &document["webhooks"][&doc.name]["post"];
            let reference = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .unwrap_or_else(|| panic!("no webhook body for {}", doc.name));
            assert_eq!(post["requestBody"]["required"], true, "{}", doc.name);
            let component = reference.strip_prefix("#/components/schemas/").unwrap();
            assert_eq!(component, super::event_component_name(&doc.name));
            let body = &document["components"]["schemas"][component];
            let data = &body["properties"]["data"];
            assert_eq!(
                data["allOf"][0]["$ref"],
                format!("#/components/schemas/{}", doc.data_schema_name),
                "{}",
                doc.name
            );
            assert_eq!(data["examples"][0], doc.example.to_json(), "{}", doc.name);
            let event_type = &body["properties"]["type"];
            match doc.name == providers::UNRECOGNIZED_FAMILY {
                true => assert!(event_type["pattern"].is_string()),
                false => assert_eq!(event_type["enum"], serde_json::json!([doc.name])),
            }
            let event_body = &document["components"]["schemas"]["EventBody"];
            assert_eq!(body["required"], event_body["required"], "{}", doc.name);
            for (name, property) in event_body["properties"].as_object().unwrap() {
                if name != "type" && name != "data" {
                    assert_eq!(&body["properties"][name], property, "{}.{name}", doc.name);
                }
            }
            let headers: Vec<&str> = post["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|parameter| parameter["in"] == "header" && parameter["required"] == true)
                .map(|parameter| parameter["name"].as_str().unwrap())
                .collect();
            assert_eq!(
                headers,
                ["webhook-id", "webhook-timestamp", "webhook-signature"],
                "{}",
                doc.name
            );
            assert!(post["responses"]["2XX"].is_object(), "{}", doc.name);
        }
    }

    #[test]
    fn the_documents_data_schemas_are_the_catalogues_own_and_collide_with_none() {
        let document = document_json();
        for (name, schema) in providers::data_schemas() {
            assert_eq!(
                document["components"]["schemas"][&name],
                serde_json::to_value(schema).unwrap(),
                "component {name} is not the catalogue's schema"
            );
        }
    }

    #[test]
    fn every_reference_in_the_document_names_one_of_its_components() {
        let document = document_json();
        let text = document.to_string();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let target = reference.split('"').next().unwrap();
            let name = target.strip_prefix("#/components/schemas/").unwrap();
            assert!(
                document["components"]["schemas"][name].is_object(),
                "{name} is referred to but missing"
            );
        }
    }

    #[test]
    fn event_components_are_named_for_generators() {
        assert_eq!(
            super::event_component_name("loan.active"),
            "LoanActiveEvent"
        );
        assert_eq!(
            super::event_component_name("pix.transfer.completed"),
            "PixTransferCompletedEvent"
        );
        assert_eq!(
            super::event_component_name("account.documentation_rejected"),
            "AccountDocumentationRejectedEvent"
        );
        assert_eq!(
            super::event_component_name(providers::UNRECOGNIZED_FAMILY),
            "UnrecognizedEvent"
        );
    }
}
