//! The golden-file check that keeps stored event data byte-compatible.

use std::collections::BTreeSet;
use std::path::Path;

use providers::NormalizedEvent;

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
