//! Shared test support for provider crates: the golden-file check that keeps stored event data
//! byte-compatible, and mutations of real payloads for the normalizer property tests (every input
//! must become events or a typed refusal, never a panic).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test support: a path from `paths` always exists in the value it came from"
)]

use std::collections::BTreeSet;
use std::path::Path;

use proptest::prelude::*;
use providers::NormalizedEvent;
use serde_json::Value;

/// One golden case: its golden file's name, the gateway type it must normalize to, and the event
/// the normalizer made of it.
#[derive(Debug)]
pub struct GoldenCase {
    /// The file `<name>.json` in the golden directory.
    pub name: &'static str,
    /// The gateway type the payload must normalize to.
    pub event_type: &'static str,
    /// What the normalizer made of it.
    pub event: NormalizedEvent,
}

/// Compares each case's `serde_json::to_string(&event.data)` with `dir/<name>.json`, byte for
/// byte, and checks it is already canonical (the same text after a round through `Value`, whose
/// keys sort as Postgres's jsonb does not care to keep); checks every type of `every_type` has a
/// case and no name repeats. `GOLDEN_UPDATE=1` rewrites the files instead of comparing.
pub fn assert_golden(dir: &Path, every_type: &[&str], cases: Vec<GoldenCase>) {
    let update = std::env::var_os("GOLDEN_UPDATE").is_some();
    let mut covered = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut failures = Vec::new();
    for case in cases {
        assert!(names.insert(case.name), "duplicate case {}", case.name);
        let event = &case.event;
        assert_eq!(event.event_type.as_str(), case.event_type, "{}", case.name);
        assert!(
            event
                .event_type
                .resource_kinds()
                .contains(&event.resource.kind),
            "{}: a {} event about a {:?}, which EventType::resource_kinds does not allow",
            case.name,
            case.event_type,
            event.resource.kind
        );
        covered.insert(event.event_type.as_str().into_owned());
        let actual = serde_json::to_string(&event.data).unwrap();
        let canonical = serde_json::to_string(&serde_json::to_value(&event.data).unwrap()).unwrap();
        let path = dir.join(format!("{}.json", case.name));
        if update {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(&path, format!("{canonical}\n")).unwrap();
            continue;
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let golden = golden.strip_suffix('\n').unwrap_or(&golden);
        if actual != golden || canonical != golden {
            failures.push(format!(
                "{}:\n  golden:    {golden}\n  actual:    {actual}\n  canonical: {canonical}",
                case.name
            ));
        }
    }
    let every: BTreeSet<String> = every_type.iter().map(|&text| text.to_owned()).collect();
    assert_eq!(covered, every, "every event type must have a golden case");
    assert!(
        failures.is_empty(),
        "data differs from the golden files:\n{}",
        failures.join("\n")
    );
}

/// The leaf paths of a JSON value (object keys and array indexes).
pub fn paths(value: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                prefix.push(key.clone());
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                prefix.push(index.to_string());
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// What a mutated field becomes.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// The field is removed.
    Remove,
    /// The field gets another value (of any type).
    Replace(Value),
    /// A field is added next to it.
    Extra(String, Value),
}

/// `depth` levels of nested objects and arrays.
pub fn deep(depth: usize) -> Value {
    (0..depth).fold(Value::Null, |inner, _| serde_json::json!({"a": [inner]}))
}

/// A value of any JSON type, among them the ones that break careless parsers: numbers with many
/// decimals, amounts as strings, NUL, a 100 kB string, deep nesting.
pub fn replacement() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[1-9][0-9]{0,19}\\.[0-9]{1,30}"
            .prop_map(|text| serde_json::from_str::<Value>(&text).unwrap()),
        "[0-9]{1,12}(\\.[0-9]{1,12})?".prop_map(Value::String),
        ".{0,40}".prop_map(Value::String),
        Just(Value::String("nul \u{0000} here".to_owned())),
        Just(Value::String("x".repeat(100_000))),
        (0usize..200).prop_map(deep),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
    ]
}

/// Removing, replacing or adding a field.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::Remove),
        replacement().prop_map(Mutation::Replace),
        ("[a-zA-Z]{1,12}", replacement()).prop_map(|(key, value)| Mutation::Extra(key, value)),
    ]
}

/// Applies `mutation` at `path` (a path from [`paths`]).
pub fn apply(value: &mut Value, path: &[String], mutation: &Mutation) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut target = value;
    for key in parents {
        target = match target {
            Value::Object(map) => map.get_mut(key).unwrap(),
            Value::Array(items) => &mut items[key.parse::<usize>().unwrap()],
            _ => return,
        };
    }
    match (target, mutation) {
        (Value::Object(map), Mutation::Remove) => {
            map.remove(last);
        }
        (Value::Object(map), Mutation::Replace(new)) => {
            map.insert(last.clone(), new.clone());
        }
        (Value::Object(map), Mutation::Extra(key, new)) => {
            map.insert(format!("{last}{key}"), new.clone());
        }
        (Value::Array(items), Mutation::Replace(new)) => {
            items[last.parse::<usize>().unwrap()] = new.clone();
        }
        _ => {}
    }
}
