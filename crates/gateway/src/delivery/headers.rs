//! A subscription's static headers, added to every delivery (for partners behind a gateway that
//! wants, say, its own token). What may be set is checked here, both when a partner sets them and
//! when a delivery is sent, so the two cannot disagree.
//!
//! Refused: hop-by-hop headers (RFC 9110 §7.6.1 and the proxy ones), what the gateway itself sets
//! (`host`, `content-type`, `content-length`, `content-encoding`, and every `webhook-*` header, the
//! Standard Webhooks namespace, so no signature header is ever overridden), names that are not
//! tokens, values with control characters, a name given twice, more than [`MAX_HEADERS`] headers
//! and more than [`MAX_TOTAL_BYTES`] of names and values together.

use std::collections::BTreeMap;

use http::{HeaderName, HeaderValue};

/// Most headers per subscription.
pub const MAX_HEADERS: usize = 20;
/// Most bytes of names and values together.
pub const MAX_TOTAL_BYTES: usize = 4096;

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

const SET_BY_THE_GATEWAY: &[&str] = &["host", "content-type", "content-length", "content-encoding"];

/// One refused header: its name as given and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The name as given (empty for a refusal of the whole set).
    pub name: String,
    /// Why.
    pub reason: String,
}

/// Reads a subscription's stored headers (the decrypted JSON object) and checks them again, as
/// they are about to be sent; an error names what is wrong, never a value.
pub fn validate_json(sealed_plaintext: &str) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let headers: BTreeMap<String, String> = serde_json::from_str(sealed_plaintext)
        .map_err(|error| format!("stored headers are not a JSON object of strings: {error}"))?;
    validate(&headers).map_err(|refused| {
        let names: Vec<String> = refused.into_iter().map(|r| r.name).collect();
        format!("stored headers refused: {}", names.join(", "))
    })
}

/// Checks `headers` (name → value, as a partner gave them) and returns them ready to send, with
/// lower-case names, or every refusal.
pub fn validate(
    headers: &BTreeMap<String, String>,
) -> Result<Vec<(HeaderName, HeaderValue)>, Vec<Refused>> {
    let mut refused = Vec::new();
    let mut valid: Vec<(HeaderName, HeaderValue)> = Vec::new();
    if headers.len() > MAX_HEADERS {
        refused.push(Refused {
            name: String::new(),
            reason: format!("at most {MAX_HEADERS} headers"),
        });
    }
    let total: usize = headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    if total > MAX_TOTAL_BYTES {
        refused.push(Refused {
            name: String::new(),
            reason: format!("names and values are {total} bytes; at most {MAX_TOTAL_BYTES}"),
        });
    }
    for (name, value) in headers {
        let refuse = |reason: &str| Refused {
            name: name.clone(),
            reason: reason.to_owned(),
        };
        let Ok(parsed) = HeaderName::from_bytes(name.as_bytes()) else {
            refused.push(refuse("not a valid header name"));
            continue;
        };
        let lower = parsed.as_str();
        if HOP_BY_HOP.contains(&lower) {
            refused.push(refuse("a hop-by-hop header cannot be set"));
            continue;
        }
        if SET_BY_THE_GATEWAY.contains(&lower) || lower.starts_with("webhook-") {
            refused.push(refuse("set by the gateway; it cannot be overridden"));
            continue;
        }
        if valid.iter().any(|(existing, _)| *existing == parsed) {
            refused.push(refuse("given twice (names are case-insensitive)"));
            continue;
        }
        let Ok(value) = HeaderValue::from_str(value) else {
            refused.push(refuse(
                "the value must be visible ASCII (no control characters)",
            ));
            continue;
        };
        valid.push((parsed, value));
    }
    if refused.is_empty() {
        Ok(valid)
    } else {
        Err(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn reasons(pairs: &[(&str, &str)]) -> Vec<String> {
        validate(&headers(pairs))
            .unwrap_err()
            .into_iter()
            .map(|refused| refused.reason)
            .collect()
    }

    #[test]
    fn partner_headers_are_accepted_with_lower_case_names() {
        let valid = validate(&headers(&[
            ("X-Partner-Token", "abc 123"),
            ("x-env", "prod"),
        ]))
        .unwrap();
        let names: Vec<&str> = valid.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["x-partner-token", "x-env"]);
    }

    #[test]
    fn signature_and_hop_by_hop_headers_cannot_be_set() {
        for name in [
            "webhook-signature",
            "Webhook-Id",
            "webhook-timestamp",
            "webhook-anything",
            "content-type",
            "Host",
        ] {
            assert_eq!(
                reasons(&[(name, "x")]),
                ["set by the gateway; it cannot be overridden"],
                "{name}"
            );
        }
        for name in [
            "Connection",
            "transfer-encoding",
            "upgrade",
            "proxy-authorization",
            "te",
        ] {
            assert_eq!(
                reasons(&[(name, "x")]),
                ["a hop-by-hop header cannot be set"],
                "{name}"
            );
        }
    }

    #[test]
    fn names_and_values_must_be_valid_and_unique() {
        assert_eq!(reasons(&[("bad name", "x")]), ["not a valid header name"]);
        assert_eq!(
            reasons(&[("x-a", "line\r\nx-injected: 1")]),
            ["the value must be visible ASCII (no control characters)"]
        );
        assert_eq!(
            reasons(&[("X-Token", "a"), ("x-token", "b")]),
            ["given twice (names are case-insensitive)"]
        );
    }

    #[test]
    fn the_set_is_capped_in_count_and_size() {
        let many: Vec<(String, String)> = (0..=MAX_HEADERS)
            .map(|n| (format!("x-h{n}"), "v".to_owned()))
            .collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(reasons(&many), [format!("at most {MAX_HEADERS} headers")]);
        let big = "v".repeat(MAX_TOTAL_BYTES);
        assert!(reasons(&[("x-big", &big)])[0].starts_with("names and values are"));
    }
}
