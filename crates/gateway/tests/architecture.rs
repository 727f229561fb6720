//! The gateway's dependency rule, checked from the source: the crate is a one-way stack of
//! components, and no module imports from a component above its own, nor closes a circle with
//! other modules (ARCHITECTURE.md, "The dependency rule").
//!
//! Read from every `crate::` and `super::` path outside comments and unit-test modules (those may
//! reach anywhere), resolved to the deepest module that exists.

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a source tree that cannot be read must fail the test"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The components, bottom first: a component may import only from components of a lower rank.
const LAYERS: &[&[&str]] = &[
    &["catalog"],
    &["config"],
    &["crypto", "db", "telemetry"],
    &["store", "registry"],
    &["keys", "credentials", "secrets", "doctor", "jobs"],
    &["outbox", "retention"],
    &["reconcile", "delivery"],
    &["ingest"],
    &["http"],
    &["startup"],
    &["cli"],
];

type Module = Vec<String>;

fn rank(component: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&component))
}

/// Every module of `src/` (but the binary's `main.rs`) with its source.
fn modules(src: &Path) -> BTreeMap<Module, String> {
    let mut found = BTreeMap::new();
    let mut pending = vec![src.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable src dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("under src");
            let mut module: Module = relative
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            match module.last().map(String::as_str) {
                Some("main") if module.len() == 1 => continue,
                Some("lib") if module.len() == 1 => module.clear(),
                Some("mod") => {
                    module.pop();
                }
                _ => {}
            }
            found.insert(module, std::fs::read_to_string(&path).expect("readable"));
        }
    }
    found
}

/// The source without comments and without its unit-test module.
fn code_of(source: &str) -> String {
    let mut code = String::new();
    for line in source.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        code.push_str(line.split(" // ").next().unwrap_or(line));
        code.push('\n');
    }
    code
}

/// Expands a `use` tree (`a::{b, c::{d, e}}`) to its paths.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or(tree).trim().to_owned()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (index, character) in inner.char_indices() {
        match character {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&inner[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|part| !part.trim().is_empty())
        .flat_map(expand)
        .map(|rest| format!("{prefix}{rest}"))
        .collect()
}

/// The module paths `code` refers to, absolute (`crate::...` or resolved `super::...`).
fn references(module: &Module, code: &str) -> Vec<Module> {
    let mut paths = Vec::new();
    // `use` trees, which may span lines and group paths.
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let preceded_by_word = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let statement = &rest[at + 4..];
        let end = statement.find(';').unwrap_or(statement.len());
        if !preceded_by_word {
            paths.extend(expand(&statement[..end]));
        }
        rest = &statement[end.min(statement.len())..];
    }
    // Paths written inline (`crate::reconcile::items::worker(...)`).
    for (at, _) in code.match_indices("crate::") {
        if code[..at].ends_with("use ") {
            continue;
        }
        let path: String = code[at..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        paths.push(path);
    }
    paths
        .into_iter()
        .filter_map(|path| {
            let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            match segments.first() {
                Some(&"crate") => Some(segments[1..].iter().map(|s| (*s).to_owned()).collect()),
                Some(&"super") => {
                    let mut base = module.clone();
                    let mut segments = segments.as_slice();
                    while segments.first() == Some(&"super") {
                        base.pop();
                        segments = &segments[1..];
                    }
                    base.extend(segments.iter().map(|s| (*s).to_owned()));
                    Some(base)
                }
                _ => None,
            }
        })
        .collect()
}

/// The deepest existing module `path` names.
fn resolve(path: &Module, modules: &BTreeMap<Module, String>) -> Option<Module> {
    (1..=path.len())
        .rev()
        .map(|length| path[..length].to_vec())
        .find(|prefix| modules.contains_key(prefix))
}

fn edges(modules: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    modules
        .iter()
        .map(|(module, source)| {
            let targets = references(module, &code_of(source))
                .iter()
                .filter_map(|path| resolve(path, modules))
                .filter(|target| target != module)
                .collect();
            (module.clone(), targets)
        })
        .collect()
}

fn name(module: &Module) -> String {
    if module.is_empty() {
        "crate".to_owned()
    } else {
        module.join("::")
    }
}

/// A circle through the import graph, if there is one.
fn find_circle(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        marks: &mut BTreeMap<Module, Mark>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = stack.iter().position(|m| m == node).unwrap_or(0);
                let mut circle = stack[start..].to_vec();
                circle.push(node.clone());
                return Some(circle);
            }
            None => {}
        }
        marks.insert(node.clone(), Mark::Open);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, marks, stack) {
                return Some(circle);
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut marks, &mut Vec::new()))
}

fn gateway_graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    edges(&modules(&src))
}

#[test]
fn every_component_of_the_gateway_has_a_layer() {
    let graph = gateway_graph();
    let unplaced: BTreeSet<&str> = graph
        .keys()
        .filter_map(|module| module.first())
        .map(String::as_str)
        .filter(|component| rank(component).is_none())
        .collect();
    assert!(
        unplaced.is_empty(),
        "components with no layer in LAYERS (add them where they belong): {unplaced:?}"
    );
}

#[test]
fn no_module_imports_from_a_component_above_its_own() {
    let graph = gateway_graph();
    let mut upward = Vec::new();
    for (from, targets) in &graph {
        let Some(from_rank) = from.first().and_then(|c| rank(c)) else {
            continue;
        };
        for to in targets {
            let (Some(from_component), Some(to_component)) = (from.first(), to.first()) else {
                continue;
            };
            if from_component == to_component {
                continue;
            }
            let to_rank = rank(to_component).unwrap_or(usize::MAX);
            if to_rank >= from_rank {
                upward.push(format!("{} -> {}", name(from), name(to)));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that run upward or sideways:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_gateways_modules_import_each_other_in_no_circle() {
    let graph = gateway_graph();
    if let Some(circle) = find_circle(&graph) {
        let names: Vec<String> = circle.iter().map(name).collect();
        panic!("import circle: {}", names.join(" -> "));
    }
}

#[test]
fn the_checker_sees_grouped_inline_and_relative_paths() {
    let module = vec!["delivery".to_owned(), "dispatcher".to_owned()];
    let code = code_of(
        "use crate::{config::Settings, store::{events, deliveries::Claimed}};\n\
         use super::payload::EventBody;\n\
         // use crate::http::state::AppState;\n\
         fn f() { crate::outbox::store_event(); }\n\
         #[cfg(test)]\nmod tests { use crate::cli; }\n",
    );
    let found: BTreeSet<String> = references(&module, &code)
        .iter()
        .map(|path| path.join("::"))
        .collect();
    let expected: BTreeSet<String> = [
        "config::Settings",
        "store::events",
        "store::deliveries::Claimed",
        "delivery::payload::EventBody",
        "outbox::store_event",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(found, expected);

    let circle: BTreeMap<Module, BTreeSet<Module>> = [
        (vec!["a".to_owned()], BTreeSet::from([vec!["b".to_owned()]])),
        (vec!["b".to_owned()], BTreeSet::from([vec!["a".to_owned()]])),
    ]
    .into_iter()
    .collect();
    assert!(
        find_circle(&circle).is_some(),
        "a two-module circle is found"
    );
}
