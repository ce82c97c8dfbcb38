//! The record-level built-ins: string functions, parsers, field pickers (`RecordFn`) and splitters (`Splitter`).

use super::BuiltinError;

/// Names of the one-record-in, one-record-out built-ins (in errors).
const RECORD_FNS: &str = "lower, upper, trim, parse_int, parse_float, csv_field, tsv_field, \
                          json_field, pair_with_one, mean_value, format_pair";
/// Names of the splitting built-ins (in errors).
const SPLITTERS: &str = "split_whitespace, split";

/// A built-in mapping one record to one record.
pub(super) enum RecordFn {
    Lower,
    Upper,
    Trim,
    ParseInt,
    ParseFloat,
    CsvField(usize),
    TsvField(usize),
    JsonField(String),
    PairWithOne,
    MeanValue,
    /// A pair as text: its key, the separator, its value (`KEY:VALUE:SEP` parameter).
    FormatPair(TextType, TextType, Vec<u8>),
}

/// How `format_pair` renders one half of a pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum TextType {
    /// A string: its UTF-8 bytes as they are.
    Str,
    /// An s64 in decimal.
    S64,
    /// A u64 in decimal.
    U64,
    /// An f64 in Rust's shortest round-trip form (`1`, `0.5`, `NaN`, `inf`).
    F64,
}

impl TextType {
    fn parse(name: &str) -> Option<TextType> {
        Some(match name {
            "str" => TextType::Str,
            "s64" => TextType::S64,
            "u64" => TextType::U64,
            "f64" => TextType::F64,
            _ => return None,
        })
    }

    /// Appends the text of the encoded value `b`.
    fn render(self, b: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        use std::io::Write as _;
        match self {
            TextType::Str => {
                utf8(b)?;
                out.extend_from_slice(b);
            }
            TextType::S64 => write!(out, "{}", decode_i64(b)?).expect("writing to a Vec"),
            TextType::U64 => {
                let b: [u8; 8] =
                    b.try_into().map_err(|_| format!("{} bytes are not a u64", b.len()))?;
                write!(out, "{}", u64::from_be_bytes(b)).expect("writing to a Vec");
            }
            TextType::F64 => write!(out, "{}", decode_f64(b)?).expect("writing to a Vec"),
        }
        Ok(())
    }
}

/// `format_pair`'s parameter `KEY:VALUE:SEP` (types `str`, `s64`, `u64`, `f64`; the separator is the rest).
fn format_args(args: &[u8]) -> Result<RecordFn, BuiltinError> {
    let text = args_text("format_pair", args)?;
    let mut parts = text.splitn(3, ':');
    let (k, v, sep) = (parts.next(), parts.next(), parts.next());
    match (k.and_then(TextType::parse), v.and_then(TextType::parse), sep) {
        (Some(k), Some(v), Some(sep)) => Ok(RecordFn::FormatPair(k, v, sep.as_bytes().to_vec())),
        _ => Err(BuiltinError::BadArgs {
            name: "format_pair",
            args: text.clone(),
            reason:
                "expected KEY:VALUE:SEPARATOR with types str, s64, u64 or f64 (e.g. str:s64:\\t)"
                    .into(),
        }),
    }
}

fn args_text(name: &'static str, args: &[u8]) -> Result<String, BuiltinError> {
    String::from_utf8(args.to_vec()).map_err(|_| BuiltinError::BadArgs {
        name,
        args: String::from_utf8_lossy(args).into_owned(),
        reason: "not UTF-8".into(),
    })
}

fn field_index(name: &'static str, args: &[u8]) -> Result<usize, BuiltinError> {
    let text = args_text(name, args)?;
    text.trim().parse().map_err(|_| BuiltinError::BadArgs {
        name,
        args: text.clone(),
        reason: "expected a field index (0, 1, ...)".into(),
    })
}

impl RecordFn {
    pub(super) fn new(
        name: &str,
        args: &[u8],
        kind: &'static str,
    ) -> Result<RecordFn, BuiltinError> {
        Ok(match name {
            "lower" => RecordFn::Lower,
            "upper" => RecordFn::Upper,
            "trim" => RecordFn::Trim,
            "parse_int" => RecordFn::ParseInt,
            "parse_float" => RecordFn::ParseFloat,
            "csv_field" => RecordFn::CsvField(field_index("csv_field", args)?),
            "tsv_field" => RecordFn::TsvField(field_index("tsv_field", args)?),
            "json_field" => RecordFn::JsonField(args_text("json_field", args)?),
            "pair_with_one" => RecordFn::PairWithOne,
            "mean_value" => RecordFn::MeanValue,
            "format_pair" => format_args(args)?,
            _ => {
                return Err(BuiltinError::Unknown { name: name.into(), kind, known: RECORD_FNS });
            }
        })
    }

    pub(super) fn name(&self) -> &'static str {
        match self {
            RecordFn::Lower => "lower",
            RecordFn::Upper => "upper",
            RecordFn::Trim => "trim",
            RecordFn::ParseInt => "parse_int",
            RecordFn::ParseFloat => "parse_float",
            RecordFn::CsvField(_) => "csv_field",
            RecordFn::TsvField(_) => "tsv_field",
            RecordFn::JsonField(_) => "json_field",
            RecordFn::PairWithOne => "pair_with_one",
            RecordFn::MeanValue => "mean_value",
            RecordFn::FormatPair(..) => "format_pair",
        }
    }

    /// Appends the result's encoding for record `r` to `out`, or says why `r` does not fit.
    pub(super) fn apply(&self, r: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        match self {
            RecordFn::Lower if r.is_ascii() => out.extend(r.iter().map(u8::to_ascii_lowercase)),
            RecordFn::Upper if r.is_ascii() => out.extend(r.iter().map(u8::to_ascii_uppercase)),
            RecordFn::Lower => out.extend_from_slice(utf8(r)?.to_lowercase().as_bytes()),
            RecordFn::Upper => out.extend_from_slice(utf8(r)?.to_uppercase().as_bytes()),
            RecordFn::Trim => out.extend_from_slice(utf8(r)?.trim().as_bytes()),
            RecordFn::ParseInt => {
                let text = utf8(r)?.trim();
                let v: i64 = text.parse().map_err(|e| format!("not an integer ({e})"))?;
                out.extend_from_slice(&encode_i64(v));
            }
            RecordFn::ParseFloat => {
                let text = utf8(r)?.trim();
                let v: f64 = text.parse().map_err(|e| format!("not a number ({e})"))?;
                out.extend_from_slice(&encode_f64(v));
            }
            RecordFn::CsvField(i) => csv_field(r, *i, out)?,
            RecordFn::TsvField(i) => {
                let n = r.split(|&b| b == b'\t').count();
                let field = r.split(|&b| b == b'\t').nth(*i).ok_or_else(|| {
                    format!("no field {i}: the line has {n} tab-separated fields")
                })?;
                out.extend_from_slice(field);
            }
            RecordFn::JsonField(name) => json_field(r, name, out)?,
            RecordFn::PairWithOne => {
                out.extend_from_slice(&(r.len() as u32).to_le_bytes());
                out.extend_from_slice(r);
                out.extend_from_slice(&encode_i64(1));
            }
            RecordFn::MeanValue => {
                let (sum, count) = super::aggregate::decode_mean(r)?;
                out.extend_from_slice(&encode_f64(sum / count as f64));
            }
            RecordFn::FormatPair(kt, vt, sep) => {
                let (k, v) = crate::records::split_pair(r).map_err(|e| e.to_string())?;
                let start = out.len();
                let rendered = kt.render(k, out).and_then(|()| {
                    out.extend_from_slice(sep);
                    vt.render(v, out)
                });
                if rendered.is_err() {
                    out.truncate(start);
                }
                rendered?;
            }
        }
        Ok(())
    }
}

fn utf8(r: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(r).map_err(|e| format!("not UTF-8 ({e})"))
}

/// Field `i` of a CSV line (RFC 4180: `"` quotes a field, `""` inside quotes is one `"`).
fn csv_field(r: &[u8], i: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let mut field = 0usize;
    let mut pos = 0usize;
    loop {
        let quoted = r.get(pos) == Some(&b'"');
        let start = out.len();
        if quoted {
            pos += 1;
            loop {
                match r.get(pos) {
                    None => return Err("a quoted field is not closed".into()),
                    Some(b'"') if r.get(pos + 1) == Some(&b'"') => {
                        if field == i {
                            out.push(b'"');
                        }
                        pos += 2;
                    }
                    Some(b'"') => {
                        pos += 1;
                        break;
                    }
                    Some(&b) => {
                        if field == i {
                            out.push(b);
                        }
                        pos += 1;
                    }
                }
            }
            match r.get(pos) {
                None | Some(b',') => {}
                Some(_) => return Err("a quoted field is followed by more than a comma".into()),
            }
        } else {
            let end = memchr::memchr(b',', &r[pos..]).map_or(r.len(), |n| pos + n);
            if field == i {
                out.extend_from_slice(&r[pos..end]);
            }
            pos = end;
        }
        if field == i {
            return Ok(());
        }
        out.truncate(start);
        if pos >= r.len() {
            return Err(format!("no field {i}: the line has {} CSV fields", field + 1));
        }
        pos += 1; // the comma
        field += 1;
    }
}

/// The value of top-level field `name` of a JSON object: a string's text, else the value's JSON.
fn json_field(r: &[u8], name: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(r).map_err(|e| format!("not a JSON object ({e})"))?;
    match object.get(name) {
        None => Err(format!("no field {name:?}")),
        Some(serde_json::Value::String(s)) => {
            out.extend_from_slice(s.as_bytes());
            Ok(())
        }
        Some(other) => {
            out.extend_from_slice(other.to_string().as_bytes());
            Ok(())
        }
    }
}

/// The `s64` encoding.
pub(super) fn encode_i64(x: i64) -> [u8; 8] {
    ((x as u64) ^ (1 << 63)).to_be_bytes()
}

/// The `f64` encoding (order-preserving bits).
pub(super) fn encode_f64(x: f64) -> [u8; 8] {
    let bits = x.to_bits();
    let bits = if bits >> 63 == 0 { bits ^ (1 << 63) } else { !bits };
    bits.to_be_bytes()
}

/// Decodes an `s64` field.
pub(super) fn decode_i64(b: &[u8]) -> Result<i64, String> {
    let b: [u8; 8] = b.try_into().map_err(|_| format!("{} bytes are not an s64", b.len()))?;
    Ok((u64::from_be_bytes(b) ^ (1 << 63)) as i64)
}

/// Decodes an `f64` field.
pub(super) fn decode_f64(b: &[u8]) -> Result<f64, String> {
    let b: [u8; 8] = b.try_into().map_err(|_| format!("{} bytes are not an f64", b.len()))?;
    let bits = u64::from_be_bytes(b);
    let bits = if bits >> 63 == 1 { bits ^ (1 << 63) } else { !bits };
    Ok(f64::from_bits(bits))
}

/// A built-in splitting one record into pieces.
pub(super) enum Splitter {
    Whitespace,
    Delimiter(Vec<u8>),
}

impl Splitter {
    pub(super) fn new(
        name: &str,
        args: &[u8],
        kind: &'static str,
    ) -> Result<Splitter, BuiltinError> {
        match name {
            "split_whitespace" => Ok(Splitter::Whitespace),
            "split" if args.is_empty() => Err(BuiltinError::BadArgs {
                name: "split",
                args: String::new(),
                reason: "the delimiter is empty".into(),
            }),
            "split" => Ok(Splitter::Delimiter(args.to_vec())),
            _ => Err(BuiltinError::Unknown { name: name.into(), kind, known: SPLITTERS }),
        }
    }

    pub(super) fn name(&self) -> &'static str {
        match self {
            Splitter::Whitespace => "split_whitespace",
            Splitter::Delimiter(_) => "split",
        }
    }

    /// Calls `emit` with each piece of `r`. (ASCII bytes never occur inside
    /// a UTF-8 sequence, so pieces of a string are strings.)
    pub(super) fn split(&self, r: &[u8], mut emit: impl FnMut(&[u8])) {
        match self {
            Splitter::Whitespace => {
                for w in r.split(|b| b.is_ascii_whitespace()) {
                    if !w.is_empty() {
                        emit(w);
                    }
                }
            }
            Splitter::Delimiter(d) if d.len() == 1 => r.split(|&b| b == d[0]).for_each(emit),
            Splitter::Delimiter(d) => {
                let mut rest = r;
                while let Some(at) = memchr::memmem::find(rest, d) {
                    emit(&rest[..at]);
                    rest = &rest[at + d.len()..];
                }
                emit(rest);
            }
        }
    }
}
