//! The key tables of `docs/configuration.md`, rendered from the declarations and checked against the file.
//!
//! The tables sit between `<!-- keys:begin -->` and `<!-- keys:end -->`;
//! the prose around them is the file's own. After changing a declaration,
//! regenerate them with
//! `WISP_WRITE_CONFIG_DOCS=1 cargo test -p wisp --lib settings::docs`.

use super::keys::{DefaultValue, KEYS, Key, Section};

/// The line before the generated tables.
const BEGIN: &str = "<!-- keys:begin -->";
/// The line after them.
const END: &str = "<!-- keys:end -->";
/// The command that rewrites them.
const REGENERATE: &str = "WISP_WRITE_CONFIG_DOCS=1 cargo test -p wisp --lib settings::docs";

/// The Markdown between the markers: one table per section.
fn render() -> String {
    let mut out = format!(
        "<!-- Generated from host/src/settings/keys.rs: edit the declarations there, then run `{REGENERATE}`. -->\n"
    );
    for section in Section::ALL {
        out.push_str(&format!("\n## {}\n\n", section.title()));
        out.push_str("| key | default | type | applies to | meaning |\n|---|---|---|---|---|\n");
        for key in KEYS.iter().filter(|k| k.section == section) {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                key.name,
                default_cell(key),
                type_cell(key),
                scope_cell(key),
                key.doc
            ));
        }
    }
    out.push('\n');
    out
}

fn default_cell(key: &Key) -> String {
    match key.default {
        DefaultValue::Value(text) => format!("`{text}`"),
        DefaultValue::SameAs(other) => format!("`{}`", other.name),
        DefaultValue::Unset(text) | DefaultValue::Derived(text) => text.to_string(),
    }
}

fn type_cell(key: &Key) -> String {
    match key.unit {
        "" => key.kind.describe(),
        unit => format!("{} ({unit})", key.kind.describe()),
    }
}

fn scope_cell(key: &Key) -> String {
    let s = key.scope;
    let names =
        [(s.run, "run"), (s.submit, "submit"), (s.master, "master"), (s.executor, "executor")];
    names
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_tables_match_the_declarations() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md");
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        let (Some(begin), Some(end)) = (text.find(BEGIN), text.find(END)) else {
            panic!(
                "docs/configuration.md must hold the key tables between `{BEGIN}` and `{END}` lines"
            );
        };
        let inner = begin + BEGIN.len() + 1;
        assert!(inner <= end, "`{END}` must follow `{BEGIN}` in docs/configuration.md");
        let rendered = render();
        if std::env::var_os("WISP_WRITE_CONFIG_DOCS").is_some_and(|v| v == "1") {
            let updated = format!("{}{}{}", &text[..inner], rendered, &text[end..]);
            std::fs::write(path, updated).unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
            return;
        }
        let current = &text[inner..end];
        if current != rendered {
            let first = current
                .lines()
                .zip(rendered.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(current.lines().count().min(rendered.lines().count()));
            panic!(
                "docs/configuration.md's key tables differ from the declarations in host/src/settings/keys.rs \
                 (first at table line {}: file has {:?}, declarations give {:?}); regenerate them with `{REGENERATE}`",
                first + 1,
                current.lines().nth(first).unwrap_or("<end>"),
                rendered.lines().nth(first).unwrap_or("<end>"),
            );
        }
    }
}
