//! Every built-in against answers written out by hand (or computed by std's own parsers), and its bad-input errors.

use super::*;

fn op(kind: OpKind, name: &str, args: &str) -> Op {
    Op { kind, name: name.into(), args: args.as_bytes().to_vec() }
}

fn s64(x: i64) -> Vec<u8> {
    ((x as u64) ^ (1 << 63)).to_be_bytes().to_vec()
}

fn f64e(x: f64) -> Vec<u8> {
    let bits = x.to_bits();
    (if bits >> 63 == 0 { bits ^ (1 << 63) } else { !bits }).to_be_bytes().to_vec()
}

fn pair(k: &[u8], v: &[u8]) -> Vec<u8> {
    let mut out = (k.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(k);
    out.extend_from_slice(v);
    out
}

/// Runs `ops` over `records` (pushed in two batches) and returns every output record.
fn run(ops: &[Op], records: &[&[u8]]) -> Result<Vec<Vec<u8>>, BuiltinError> {
    let mut chain = BuiltinChain::new(ops, 3)?;
    let mut out = Batch::default();
    let half = records.len() / 2;
    chain.push(&Batch::from_records(&records[..half]), &mut out)?;
    chain.push(&Batch::from_records(&records[half..]), &mut out)?;
    chain.finish(&mut out)?;
    Ok(out.iter().map(<[u8]>::to_vec).collect())
}

fn strs(v: &[&str]) -> Vec<Vec<u8>> {
    v.iter().map(|s| s.as_bytes().to_vec()).collect()
}

#[test]
fn splitters_cut_like_the_standard_library() {
    let lines: &[&[u8]] = &[b"  the quick\tbrown\r\n fox ", b"", b"a\x0cb"];
    let want: Vec<Vec<u8>> = lines
        .iter()
        .flat_map(|l| std::str::from_utf8(l).unwrap().split_ascii_whitespace())
        .map(|w| w.as_bytes().to_vec())
        .collect();
    assert_eq!(run(&[op(OpKind::FlatMap, "split_whitespace", "")], lines).unwrap(), want);
    let csvish: &[&[u8]] = &[b"a,,b", b"", b"x"];
    assert_eq!(
        run(&[op(OpKind::FlatMap, "split", ",")], csvish).unwrap(),
        strs(&["a", "", "b", "", "x"])
    );
    let multi: &[&[u8]] = &["1::2::".as_bytes(), "é::ü".as_bytes()];
    assert_eq!(
        run(&[op(OpKind::FlatMap, "split", "::")], multi).unwrap(),
        strs(&["1", "2", "", "é", "ü"])
    );
}

#[test]
fn string_functions_and_parsers() {
    let words: &[&[u8]] = &["MiXeD".as_bytes(), "ÉCOLE".as_bytes(), "  pad \t".as_bytes()];
    assert_eq!(
        run(&[op(OpKind::Map, "lower", "")], words).unwrap(),
        strs(&["mixed", "école", "  pad \t"])
    );
    assert_eq!(
        run(&[op(OpKind::Map, "upper", "")], words).unwrap(),
        strs(&["MIXED", "ÉCOLE", "  PAD \t"])
    );
    assert_eq!(
        run(&[op(OpKind::Map, "trim", "")], words).unwrap(),
        strs(&["MiXeD", "ÉCOLE", "pad"])
    );
    let ints: &[&[u8]] = &[b"42", b" -7 ", b"9223372036854775807"];
    assert_eq!(
        run(&[op(OpKind::Map, "parse_int", "")], ints).unwrap(),
        vec![s64(42), s64(-7), s64(i64::MAX)]
    );
    let floats: &[&[u8]] = &[b"2.5", b"-0.125", b"1e3"];
    assert_eq!(
        run(&[op(OpKind::Map, "parse_float", "")], floats).unwrap(),
        vec![f64e(2.5), f64e(-0.125), f64e(1000.0)]
    );
    assert_eq!(
        run(&[op(OpKind::Map, "pair_with_one", "")], &[b"w", b""]).unwrap(),
        vec![pair(b"w", &s64(1)), pair(b"", &s64(1))]
    );
}

#[test]
fn field_pickers() {
    let rows: &[&[u8]] = &[b"1,\"Smith, J\",\"say \"\"hi\"\"\",4", b"a,b,,d"];
    assert_eq!(run(&[op(OpKind::Map, "csv_field", "1")], rows).unwrap(), strs(&["Smith, J", "b"]));
    assert_eq!(run(&[op(OpKind::Map, "csv_field", "2")], rows).unwrap(), strs(&["say \"hi\"", ""]));
    assert_eq!(run(&[op(OpKind::Map, "csv_field", "3")], rows).unwrap(), strs(&["4", "d"]));
    let tsv: &[&[u8]] = &[b"k\tv\tw", b"\tx\t"];
    assert_eq!(run(&[op(OpKind::Map, "tsv_field", "1")], tsv).unwrap(), strs(&["v", "x"]));
    let json: &[&[u8]] =
        &[br#"{"name": "caf\u00e9", "n": 3, "tags": ["a", 1]}"#, br#"{"name": null, "n": -1.5}"#];
    assert_eq!(
        run(&[op(OpKind::Map, "json_field", "name")], json).unwrap(),
        strs(&["café", "null"])
    );
    assert_eq!(run(&[op(OpKind::Map, "json_field", "n")], json).unwrap(), strs(&["3", "-1.5"]));
}

#[test]
fn value_and_key_ops_keep_the_other_half() {
    let pairs = [pair(b"k1", b"10"), pair(b"k2", b"x y")];
    let records: Vec<&[u8]> = pairs.iter().map(Vec::as_slice).collect();
    assert_eq!(
        run(
            &[op(OpKind::MapValues, "parse_int", ""), op(OpKind::MapValues, "pair_with_one", "")],
            &records[..1]
        )
        .unwrap(),
        vec![pair(b"k1", &pair(&s64(10), &s64(1)))]
    );
    assert_eq!(
        run(&[op(OpKind::FlatMapValues, "split_whitespace", "")], &records).unwrap(),
        vec![pair(b"k1", b"10"), pair(b"k2", b"x"), pair(b"k2", b"y")]
    );
    assert_eq!(
        run(&[op(OpKind::KeyBy, "csv_field", "0")], &[b"a,1", b"b,2"]).unwrap(),
        vec![pair(b"a", b"a,1"), pair(b"b", b"b,2")]
    );
}

#[test]
fn aggregators_combine_and_merge_in_key_order() {
    let vals = [("b", 5), ("a", -2), ("b", 7), ("c", 0), ("a", 10)];
    let enc: Vec<Vec<u8>> = vals.iter().map(|(k, v)| pair(k.as_bytes(), &s64(*v))).collect();
    let records: Vec<&[u8]> = enc.iter().map(Vec::as_slice).collect();
    let agg = |name: &str| run(&[op(OpKind::Combine, name, "")], &records).unwrap();
    assert_eq!(agg("sum"), vec![pair(b"a", &s64(8)), pair(b"b", &s64(12)), pair(b"c", &s64(0))]);
    assert_eq!(agg("count"), vec![pair(b"a", &s64(2)), pair(b"b", &s64(2)), pair(b"c", &s64(1))]);
    assert_eq!(agg("min"), vec![pair(b"a", &s64(-2)), pair(b"b", &s64(5)), pair(b"c", &s64(0))]);
    assert_eq!(agg("max"), vec![pair(b"a", &s64(10)), pair(b"b", &s64(7)), pair(b"c", &s64(0))]);
    // Merging two map outputs' combiners gives the same totals.
    let merged =
        run(&[op(OpKind::Merge, "sum", "")], &[&pair(b"a", &s64(3)), &pair(b"a", &s64(4))])
            .unwrap();
    assert_eq!(merged, vec![pair(b"a", &s64(7))]);
    let counted =
        run(&[op(OpKind::Merge, "count", "")], &[&pair(b"x", &s64(2)), &pair(b"x", &s64(5))])
            .unwrap();
    assert_eq!(counted, vec![pair(b"x", &s64(7))]);
}

#[test]
fn float_sum_and_mean_through_merge() {
    let enc: Vec<Vec<u8>> = [("m", 1.5), ("m", 2.5), ("n", -4.0)]
        .iter()
        .map(|(k, v)| pair(k.as_bytes(), &f64e(*v)))
        .collect();
    let records: Vec<&[u8]> = enc.iter().map(Vec::as_slice).collect();
    assert_eq!(
        run(&[op(OpKind::Combine, "sum_float", "")], &records).unwrap(),
        vec![pair(b"m", &f64e(4.0)), pair(b"n", &f64e(-4.0))]
    );
    let combiners = run(&[op(OpKind::Combine, "mean", "")], &records).unwrap();
    let mut mean_m = (8u32.to_le_bytes()).to_vec();
    mean_m.extend(f64e(4.0));
    mean_m.extend(s64(2));
    assert_eq!(combiners[0], pair(b"m", &mean_m));
    let parts: Vec<&[u8]> = combiners.iter().map(Vec::as_slice).collect();
    assert_eq!(
        run(&[op(OpKind::Merge, "mean", ""), op(OpKind::MapValues, "mean_value", "")], &parts)
            .unwrap(),
        vec![pair(b"m", &f64e(2.0)), pair(b"n", &f64e(-4.0))]
    );
}

#[test]
fn reduce_gives_one_record() {
    let enc = [s64(4), s64(-9), s64(30)];
    let records: Vec<&[u8]> = enc.iter().map(Vec::as_slice).collect();
    assert_eq!(run(&[op(OpKind::Reduce, "sum", "")], &records).unwrap(), vec![s64(25)]);
    assert_eq!(run(&[op(OpKind::Reduce, "min", "")], &records).unwrap(), vec![s64(-9)]);
    assert_eq!(run(&[op(OpKind::Reduce, "max", "")], &records).unwrap(), vec![s64(30)]);
    assert_eq!(run(&[op(OpKind::Reduce, "sum", "")], &[]).unwrap(), Vec::<Vec<u8>>::new());
}

#[test]
fn fused_word_count_matches_a_plain_count() {
    let text = "b a  c\na b\n\nc c c";
    let lines: Vec<&[u8]> = text.lines().map(str::as_bytes).collect();
    let ops = [
        op(OpKind::FlatMap, "split_whitespace", ""),
        op(OpKind::Map, "pair_with_one", ""),
        op(OpKind::Combine, "sum", ""),
    ];
    assert_eq!(
        run(&ops, &lines).unwrap(),
        vec![pair(b"a", &s64(2)), pair(b"b", &s64(2)), pair(b"c", &s64(4))]
    );
}

#[test]
fn bad_records_name_the_builtin_the_record_and_the_partition() {
    let err =
        run(&[op(OpKind::Map, "parse_int", "")], &[b"12", b"twelve"]).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "built-in parse_int failed on record \"twelve\" of partition 3: not an integer"
        ),
        "{err}"
    );
    let long = "x".repeat(500);
    let err =
        run(&[op(OpKind::Map, "parse_float", "")], &[long.as_bytes()]).unwrap_err().to_string();
    assert!(err.contains(&format!("\"{}…\"", "x".repeat(60))) && err.len() < 200, "{err}");
    let err = run(&[op(OpKind::Map, "csv_field", "5")], &[b"a,b"]).unwrap_err().to_string();
    assert!(
        err.contains("csv_field") && err.contains("no field 5: the line has 2 CSV fields"),
        "{err}"
    );
    let err =
        run(&[op(OpKind::Map, "json_field", "id")], &[b"{\"x\": 1}"]).unwrap_err().to_string();
    assert!(err.contains("json_field") && err.contains("no field \"id\""), "{err}");
    let err = run(&[op(OpKind::Combine, "sum", "")], &[&pair(b"k", b"7")]).unwrap_err().to_string();
    assert!(err.contains("built-in sum") && err.contains("1 bytes are not an s64"), "{err}");
    assert!(!err.contains('\n'));
}

#[test]
fn unknown_builtins_and_bad_parameters_are_refused_at_creation() {
    let err = BuiltinChain::new(&[op(OpKind::Map, "tokenize", "")], 0).err().unwrap().to_string();
    assert!(err.contains("no map function \"tokenize\"") && err.contains("parse_int"), "{err}");
    let err = BuiltinChain::new(&[op(OpKind::Filter, "lower", "")], 0).err().unwrap().to_string();
    assert!(err.contains("no filter function"), "{err}");
    let err =
        BuiltinChain::new(&[op(OpKind::Map, "csv_field", "first")], 0).err().unwrap().to_string();
    assert!(err.contains("bad parameter \"first\""), "{err}");
    let err = BuiltinChain::new(&[op(OpKind::Reduce, "mean", "")], 0).err().unwrap().to_string();
    assert!(err.contains("no reduce function \"mean\""), "{err}");
}

#[test]
fn format_pair_renders_each_half_as_text() {
    let pairs = [pair(b"the", &s64(42)), pair("é".as_bytes(), &s64(-7))];
    let records: Vec<&[u8]> = pairs.iter().map(Vec::as_slice).collect();
    assert_eq!(
        run(&[op(OpKind::Map, "format_pair", "str:s64:\t")], &records).unwrap(),
        strs(&["the\t42", "é\t-7"])
    );
    let mixed = [pair(&s64(i64::MIN), &f64e(0.5)), pair(&s64(3), &f64e(-2.0))];
    let records: Vec<&[u8]> = mixed.iter().map(Vec::as_slice).collect();
    assert_eq!(
        run(&[op(OpKind::Map, "format_pair", "s64:f64: :: ")], &records).unwrap(),
        strs(&["-9223372036854775808 :: 0.5", "3 :: -2"])
    );
    let unsigned = pair(&u64::MAX.to_be_bytes(), b"v");
    assert_eq!(
        run(&[op(OpKind::Map, "format_pair", "u64:str:,")], &[&unsigned]).unwrap(),
        strs(&["18446744073709551615,v"])
    );
    // The whole word count's reduce side in the host: merge, then format.
    let partials = [pair(b"b", &s64(2)), pair(b"a", &s64(1)), pair(b"b", &s64(3))];
    let records: Vec<&[u8]> = partials.iter().map(Vec::as_slice).collect();
    let ops = [op(OpKind::Merge, "sum", ""), op(OpKind::Map, "format_pair", "str:s64:\t")];
    assert_eq!(run(&ops, &records).unwrap(), strs(&["a\t1", "b\t5"]));
    let err = run(&[op(OpKind::Map, "format_pair", "str:s64:\t")], &[&pair(b"k", b"7")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("built-in format_pair") && err.contains("not an s64"), "{err}");
    for bad in ["str", "str:int:\t", "s64:s64"] {
        let err =
            BuiltinChain::new(&[op(OpKind::Map, "format_pair", bad)], 0).err().unwrap().to_string();
        assert!(err.contains("format_pair: bad parameter") && err.contains("KEY:VALUE"), "{err}");
    }
}

#[test]
fn combine_tables_are_charged_to_the_task_account_until_drained() {
    let manager = crate::memory::MemoryManager::with_usable(1 << 30);
    let account = Arc::new(manager.task());
    let mut chain = BuiltinChain::new(&[op(OpKind::Combine, "sum", "")], 0)
        .unwrap()
        .with_account(account.clone());
    let keys: Vec<Vec<u8>> =
        (0..40_000).map(|i| pair(format!("key{i}").as_bytes(), &s64(1))).collect();
    let records: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let mut out = Batch::default();
    chain.push(&Batch::from_records(&records), &mut out).unwrap();
    // Each distinct key costs at least its bytes and an entry: at least 40,000 x (8 + 32).
    assert!(chain.charged() >= 40_000 * 40, "charged {}", chain.charged());
    assert_eq!(manager.usage().guests, chain.charged());
    chain.finish(&mut out).unwrap();
    assert_eq!(out.len(), 40_000);
    assert_eq!((chain.charged(), manager.usage().guests), (0, 0));
    // A chain dropped before its tables drain gives its charge back.
    let mut chain =
        BuiltinChain::new(&[op(OpKind::Combine, "sum", "")], 0).unwrap().with_account(account);
    chain.push(&Batch::from_records(&records), &mut Batch::default()).unwrap();
    assert!(manager.usage().guests > 0);
    drop(chain);
    assert_eq!(manager.usage().guests, 0);
}
