//! Cursor pagination, one answer shape for every list ([`ListBody`]): `limit` (1 to 100, default
//! 25), `starting_after` (the last id of the previous page), and `has_more` in the answer; lists
//! the provider pages also carry its `next_cursor`.

use std::str::FromStr;

use serde::Serialize;
use utoipa::ToSchema;

use crate::http::error::ApiError;

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 25;
/// Largest page size.
pub const MAX_LIMIT: u32 = 100;

/// A list answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListBody<T> {
    /// Always `list`.
    pub object: &'static str,
    /// The items.
    pub data: Vec<T>,
    /// True when another page follows; ask for it with `starting_after` = the last item's id (or,
    /// on lists the provider pages, with `cursor` = `next_cursor`).
    pub has_more: bool,
    /// On lists the provider pages (the banking lists): pass it as `cursor` for the next page;
    /// absent on the last page and on lists paged by `starting_after`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> ListBody<T> {
    /// Wraps a page.
    pub fn new(data: Vec<T>, has_more: bool) -> ListBody<T> {
        ListBody {
            object: "list",
            data,
            has_more,
            next_cursor: None,
        }
    }

    /// Wraps a page the provider paged: more follow exactly when it gave a cursor.
    pub fn with_cursor(data: Vec<T>, next_cursor: Option<String>) -> ListBody<T> {
        ListBody {
            object: "list",
            data,
            has_more: next_cursor.is_some(),
            next_cursor,
        }
    }
}

/// Validated paging parameters.
#[derive(Debug, Clone, Copy)]
pub struct PageParams<Id> {
    /// Page size.
    pub limit: u32,
    /// Cursor.
    pub starting_after: Option<Id>,
}

impl<Id: FromStr> PageParams<Id> {
    /// Validates `limit` and parses the cursor as an id of the listed kind.
    pub fn parse(
        limit: Option<u32>,
        starting_after: Option<&str>,
    ) -> Result<PageParams<Id>, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::InvalidQuery(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        let starting_after = starting_after
            .map(|cursor| {
                cursor.parse::<Id>().map_err(|_| {
                    ApiError::InvalidQuery("starting_after is not an id of this list".into())
                })
            })
            .transpose()?;
        Ok(PageParams {
            limit,
            starting_after,
        })
    }
}
