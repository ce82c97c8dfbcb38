//! Tests of the key table: names unique and grouped by section, defaults parsed by their own kinds, sizes, durations and ranges checked with the reasons users see, the nearest key suggested.

use super::*;

#[test]
fn names_are_unique_reserved_and_grouped_by_section() {
    for (i, k) in KEYS.iter().enumerate() {
        assert!(k.name.starts_with(RESERVED_PREFIX), "{}", k.name);
        assert!(KEYS[..i].iter().all(|o| o.name != k.name), "{} declared twice", k.name);
        assert!(
            KEYS[..i].iter().all(|o| o.section <= k.section),
            "{} is out of its section's order",
            k.name
        );
        assert!(
            !k.doc.is_empty() && !k.doc.contains('|') && !k.doc.contains('\n'),
            "{}: the doc must fit one table cell",
            k.name
        );
        assert!(lookup(k.name).is_some_and(|found| std::ptr::eq(found, *k)));
    }
}

#[test]
fn every_default_parses_with_its_own_kind() {
    for k in KEYS {
        match k.default {
            DefaultValue::Value(text) => {
                k.kind
                    .parse(text)
                    .unwrap_or_else(|e| panic!("default `{text}` of {}: {e}", k.name));
            }
            DefaultValue::SameAs(other) => {
                assert_eq!(
                    other.kind, k.kind,
                    "{} defaults to {} of another kind",
                    k.name, other.name
                );
                assert!(
                    matches!(other.default, DefaultValue::Value(_)),
                    "{}: chains of defaults are not followed in docs",
                    k.name
                );
                assert!(
                    lookup(other.name).is_some(),
                    "{} defaults to undeclared {}",
                    k.name,
                    other.name
                );
            }
            DefaultValue::Unset(text) | DefaultValue::Derived(text) => {
                assert!(!text.is_empty(), "{}", k.name)
            }
        }
    }
}

#[test]
fn parses_sizes_and_durations() {
    assert_eq!(parse_bytes("64m"), Some(64 << 20));
    assert_eq!(parse_bytes("1g"), Some(1 << 30));
    assert_eq!(parse_bytes("512KB"), Some(512 << 10));
    assert_eq!(parse_bytes("4096"), Some(4096));
    assert_eq!(parse_bytes("x"), None);
    assert_eq!(parse_bytes("99999999999t"), None);
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration("3s"), Some(Duration::from_secs(3)));
    assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
    assert_eq!(parse_duration("2min"), Some(Duration::from_secs(120)));
    assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
    assert_eq!(parse_duration("-1"), None);
    assert_eq!(parse_duration("1e300"), None);
    assert_eq!(format_bytes(1 << 20), "1m");
    assert_eq!(format_bytes(4 << 30), "4g");
    assert_eq!(format_bytes(1536), "1536");
}

#[test]
fn kinds_check_their_ranges_with_the_reasons_shown_to_users() {
    assert_eq!(TASK_MEMORY.kind.parse("64k"), Err("expected a size between 1m and 4g".to_string()));
    assert_eq!(TASK_MEMORY.kind.parse("256m"), Ok(Value::Bytes(256 << 20)));
    assert_eq!(
        SPECULATION_QUANTILE.kind.parse("2"),
        Err("expected a number between 0 and 1".to_string())
    );
    assert_eq!(
        SPECULATION_MULTIPLIER.kind.parse("0.5"),
        Err("expected a number of at least 1".to_string())
    );
    assert_eq!(
        SPECULATION_MULTIPLIER.kind.parse("inf"),
        Err("expected a number of at least 1".to_string())
    );
    assert_eq!(
        TASK_MAX_FAILURES.kind.parse("0"),
        Err("expected a positive 32-bit integer".to_string())
    );
    assert_eq!(
        TASK_MAX_FAILURES.kind.parse("4294967296"),
        Err("expected a positive 32-bit integer".to_string())
    );
    assert_eq!(TASK_FUEL.kind.parse("0"), Err("expected a positive number".to_string()));
    assert_eq!(SPECULATION.kind.parse("ON"), Ok(Value::Bool(true)));
    assert_eq!(SPECULATION.kind.parse("maybe"), Err("expected true or false".to_string()));
}

#[test]
fn nearest_key_is_suggested_only_when_close() {
    let near = |name: &str| nearest(name).map(|k| k.name);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(near("wisp.task.memmory"), Some("wisp.task.memory"));
    assert_eq!(near("wisp.task.maxfailures"), Some("wisp.task.maxFailures"));
    assert_eq!(near("wisp.speculation.quantil"), Some("wisp.speculation.quantile"));
    assert_eq!(near("wisp.locality.wait.host"), Some("wisp.locality.wait.node"));
    // A setting Wisp has per task, asked for per executor.
    assert_eq!(near("wisp.executor.fuel"), Some("wisp.task.fuel"));
    assert_eq!(near("wisp.completely.different"), None);
    assert_eq!(near("wisp.x"), None);
}
