//! A `functions` component (no main): text functions under stable names, for
//! jobs in any language to load with `load-functions` (see
//! `examples/python-mixed`).
//!
//! * `tokenize` (flat-map, `string` → `string`s): the words of a line, a
//!   word being a maximal run of characters other than ASCII whitespace
//!   (the rule of `examples/wordcount`).
//! * `lowercase` (map, `string` → `string`): the Unicode lowercase.
//! * `sum` (an aggregator for `combine-by-key` over `(string, s64)` pairs):
//!   adds the counts of a word.

/// The words of a line.
fn tokenize(line: String) -> Vec<String> {
    line.split_ascii_whitespace().map(str::to_owned).collect()
}

/// The lowercase of a word.
fn lowercase(word: String) -> String {
    word.to_lowercase()
}

/// Adds two counts.
fn add(a: i64, b: i64) -> i64 {
    a + b
}

wisp_guest::export_functions! {
    "tokenize" => flat_map(tokenize),
    "lowercase" => map(lowercase),
    "sum" => reduce_by_key::<String, _>(add),
}
