//! `builtins DIR`: every built-in of `wisp_guest::builtins` over the files of DIR (written by tests/it/builtins.rs), printed as `name<TAB>json` lines.

use std::fmt::Debug;

use wisp_guest::builtins as b;
use wisp_guest::prelude::*;
use wisp_guest::raw;

/// JSON of strings, numbers and their pairs and lists.
trait Json {
    fn json(&self) -> String;
}

impl Json for String {
    fn json(&self) -> String {
        let mut out = String::from("\"");
        for c in self.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
}

impl Json for i64 {
    fn json(&self) -> String {
        self.to_string()
    }
}

impl Json for f64 {
    fn json(&self) -> String {
        format!("{self:?}")
    }
}

impl<A: Json, B: Json> Json for (A, B) {
    fn json(&self) -> String {
        format!("[{},{}]", self.0.json(), self.1.json())
    }
}

impl<T: Json> Json for Vec<T> {
    fn json(&self) -> String {
        format!("[{}]", self.iter().map(Json::json).collect::<Vec<_>>().join(","))
    }
}

fn show<T: Json + Debug>(name: &str, value: Result<T>) -> Result<()> {
    println!("{name}\t{}", value?.json());
    Ok(())
}

pub(crate) fn builtins(ctx: &Context, args: &[String]) -> Result<()> {
    let [mode, d] = args else { return Err(Error::msg("expected: builtins MODE DIR")) };
    let file = |n: &str| ctx.text_file(&format!("{d}/{n}"), 2);
    if mode == "bad" {
        return show(
            "bad",
            b::parse_int(&ctx.text_file(&format!("{d}/bad-ints.txt"), 1)).collect(),
        );
    }
    let (lines, ints, floats) = (file("lines.txt"), file("ints.txt"), file("floats.txt"));
    let (rows, tsv, objs) = (file("rows.csv"), file("rows.tsv"), file("objs.jsonl"));
    show("split-whitespace", b::split_whitespace(&lines).collect())?;
    show("split", b::split(&rows, ",").collect())?;
    show("lower", b::lower(&lines).collect())?;
    show("upper", b::upper(&lines).collect())?;
    show("trim", b::trim(&lines).collect())?;
    show("parse-int", b::parse_int(&ints).collect())?;
    show("parse-float", b::parse_float(&floats).collect())?;
    show("csv-field", b::csv_field(&rows, 1).collect())?;
    show("tsv-field", b::tsv_field(&tsv, 2).collect())?;
    show("json-field", b::json_field(&objs, "name").collect())?;
    let words = b::pair_with_one(&b::split_whitespace(&lines));
    show("word-sum", b::sum_by_key(&words, 0).sort_by_key(true).collect())?;
    let mut lines_out = b::format_pair(&b::sum_by_key(&words, 0), " = ").collect()?;
    lines_out.sort();
    show("format-pair", Ok(lines_out))?;
    let keyed: Rdd<(String, String)> = b::apply(&rows, raw::OpKind::KeyBy, "csv_field", "0");
    let field = |i: &str| -> Rdd<(String, String)> {
        b::apply(&keyed, raw::OpKind::MapValues, "csv_field", i)
    };
    let ints_by_key: Rdd<(String, i64)> =
        b::apply(&field("2"), raw::OpKind::MapValues, "parse_int", "");
    let floats_by_key: Rdd<(String, f64)> =
        b::apply(&field("3"), raw::OpKind::MapValues, "parse_float", "");
    show("count", b::count_per_key(&keyed, 0).sort_by_key(true).collect())?;
    show("min", b::min_by_key(&ints_by_key, 0).sort_by_key(true).collect())?;
    show("max", b::max_by_key(&ints_by_key, 0).sort_by_key(true).collect())?;
    show("sum-float", b::sum_float_by_key(&floats_by_key, 0).sort_by_key(true).collect())?;
    show("mean", b::mean_by_key(&floats_by_key, 0).sort_by_key(true).collect())?;
    Ok(())
}
