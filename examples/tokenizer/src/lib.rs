//! A `functions` component (no main): text functions under stable names, for
//! jobs in any language to load with `load-functions` (see
//! `examples/python-mixed`).
//!
//! * `tokenize` (flat-map, `string` → `string`s): the words of a line, a
//!   word being a maximal run of characters other than ASCII whitespace
//!   (the rule of `examples/wordcount`).
//! * `lowercase` (map, `string` → `string`): the Unicode lowercase.
//! * `pair_with_one` (map, `string` → `(string, s64)`): `(word, 1)`.
//! * `longer_than` (filter with an `s64` parameter): keeps the words of
//!   more than that many characters.
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

/// A word paired with the count 1.
fn pair_with_one(word: String) -> (String, i64) {
    (word, 1)
}

/// Whether a word has more than `min` characters.
#[allow(clippy::ptr_arg, reason = "a filter function takes `&T` of its record type, here `String`")]
fn longer_than(word: &String, min: &i64) -> bool {
    i64::try_from(word.chars().count()).unwrap_or(i64::MAX) > *min
}

/// Adds two counts.
fn add(a: i64, b: i64) -> i64 {
    a + b
}

wisp_guest::export_functions! {
    "tokenize" => flat_map(tokenize),
    "lowercase" => map(lowercase),
    "pair_with_one" => map(pair_with_one),
    "longer_than" => filter_with(longer_than),
    "sum" => reduce_by_key::<String, _>(add),
}
