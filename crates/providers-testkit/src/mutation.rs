//! Mutations of real payloads for the normalizer property tests: every input must become events
//! or a typed refusal, never a panic.

use proptest::prelude::*;
use serde_json::Value;

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
