//! `GET /v1/event-types` and `GET /v1/event-types/{type}`: the catalogue of the event types
//! partners receive (`providers::event_catalogue`), each with the JSON Schema of its `data`,
//! derived from the types that serialize it, and an example.

use axum::Json;
use providers::{EventType, EventTypeDoc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::error::ApiError;
use crate::http::extract::ApiPath;
use crate::http::pagination::ListBody;
use crate::keys::{Caller, Scope};

/// One event type of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeBody {
    /// The type (`loan.active`); `{provider}.unrecognized` stands for every provider's
    /// unrecognized events (`dinie.unrecognized`...).
    #[serde(rename = "type")]
    #[schema(example = "loan.active")]
    pub event_type: String,
    /// What an event of this type means.
    pub description: String,
    /// The name of the `data` schema among the OpenAPI document's components (`LoanData`).
    #[schema(example = "LoanData")]
    pub data_schema_name: String,
    /// The JSON Schema (2020-12) of the event's `data`, self-contained: every schema it refers
    /// to is under its `$defs`.
    #[schema(value_type = Object)]
    pub data_schema: serde_json::Value,
    /// A realistic `data` of this type, as deliveries and `GET /v1/events` carry it.
    #[schema(value_type = Object)]
    pub example: serde_json::Value,
}

impl From<EventTypeDoc> for EventTypeBody {
    fn from(doc: EventTypeDoc) -> EventTypeBody {
        EventTypeBody {
            data_schema: doc.data_json_schema(),
            example: doc.example.to_json(),
            event_type: doc.name,
            description: doc.description.to_owned(),
            data_schema_name: doc.data_schema_name,
        }
    }
}

/// Lists every event type: the known ones in taxonomy order, then `{provider}.unrecognized`.
#[utoipa::path(
    get, path = "/v1/event-types", tag = "events", operation_id = "list_event_types",
    security(("api_key" = ["events:read"])),
    responses(
        (status = 200, body = ListBody<EventTypeBody>),
        (status = 401, body = crate::http::error::Problem),
        (status = 403, body = crate::http::error::Problem),
    )
)]
pub async fn list(caller: Caller) -> Result<Json<ListBody<EventTypeBody>>, ApiError> {
    caller.require(Scope::EventsRead)?;
    let types = providers::event_catalogue()
        .into_iter()
        .map(EventTypeBody::from)
        .collect();
    Ok(Json(ListBody::new(types, false)))
}

/// One event type: `loan.active`, `dinie.unrecognized`, or `{provider}.unrecognized`.
#[utoipa::path(
    get, path = "/v1/event-types/{type}", tag = "events", operation_id = "get_event_type",
    params(("type" = String, Path, example = "loan.active", description = "An event type (`loan.active`, `dinie.unrecognized`) or `{provider}.unrecognized`")),
    security(("api_key" = ["events:read"])),
    responses(
        (status = 200, body = EventTypeBody),
        (status = 404, body = crate::http::error::Problem, description = "`not_found`: no such event type"),
    )
)]
pub async fn get(
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<EventTypeBody>, ApiError> {
    caller.require(Scope::EventsRead)?;
    let doc = providers::event_catalogue()
        .into_iter()
        .find(|doc| doc.name == name)
        .or_else(|| {
            name.parse::<EventType>()
                .ok()
                .map(|event_type| event_type.catalogue_entry())
        })
        .ok_or_else(|| ApiError::NotFound {
            resource: format!("event type {name}"),
        })?;
    Ok(Json(EventTypeBody::from(doc)))
}
