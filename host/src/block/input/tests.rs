//! Tests of input listing, split sizing and line reading, against lines computed independently.

use std::path::Path;

use super::*;

/// The lines of a whole file, computed the obvious way.
fn expected_lines(content: &[u8]) -> Vec<String> {
    if content.is_empty() {
        return Vec::new();
    }
    let mut pieces: Vec<&[u8]> = content.split(|b| *b == b'\n').collect();
    if content.ends_with(b"\n") {
        pieces.pop();
    }
    pieces
        .into_iter()
        .map(|p| String::from_utf8_lossy(p.strip_suffix(b"\r").unwrap_or(p)).into_owned())
        .collect()
}

/// Reads every split and concatenates their lines; checks the byte and line counts.
fn read_splits(splits: &[FileSplit], batch_bytes: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut total = ReadStats::default();
    for split in splits {
        let stats = read_split_lines(split, &stores(), batch_bytes, |batch: &Batch| {
            batch.validate().unwrap();
            lines.extend(
                batch.iter().map(|r| String::from_utf8(r.to_vec()).expect("records are UTF-8")),
            );
            Ok::<(), std::convert::Infallible>(())
        })
        .unwrap();
        total.bytes += stats.bytes;
        total.lines += stats.lines;
    }
    let file_bytes: u64 = splits
        .iter()
        .filter(|s| s.start == 0)
        .map(|s| std::fs::metadata(&s.path).unwrap().len())
        .sum();
    assert_eq!(total.bytes, file_bytes);
    assert_eq!(total.lines, lines.len() as u64);
    lines
}

/// Fixed-size splits of one file, cut by the test.
fn cut(path: &Path, len: u64, size: u64) -> Vec<FileSplit> {
    if len == 0 {
        return vec![FileSplit { path: path.to_path_buf(), start: 0, end: 0 }];
    }
    (0..len.div_ceil(size))
        .map(|i| FileSplit {
            path: path.to_path_buf(),
            start: i * size,
            end: ((i + 1) * size).min(len),
        })
        .collect()
}

fn check_content(content: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.txt");
    std::fs::write(&path, content).unwrap();
    let expected = expected_lines(content);
    let len = content.len() as u64;
    for size in [1, 2, 3, 5, 7, 64, len.max(1), len + 5] {
        for batch_bytes in [1, 1 << 20] {
            assert_eq!(
                read_splits(&cut(&path, len, size), batch_bytes),
                expected,
                "split size {size}: {content:?}"
            );
        }
    }
    for min_partitions in [1, 2, 3, 10] {
        let splits = list_splits(path_str(&path), &stores(), min_partitions, u64::MAX).unwrap();
        assert_eq!(read_splits(&splits, 100), expected, "min partitions {min_partitions}");
    }
}

#[test]
fn lines_of_tricky_contents_over_every_split_size() {
    let long = format!("short\n{}\nend", "x".repeat(300));
    let contents: Vec<&[u8]> = vec![
        b"",
        b"\n",
        b"\n\n\n",
        b"a",
        b"a\n",
        b"a\nb",
        b"a\r\nb\r\n",
        b"\r\n\r\n",
        b"a\rb\r\r\nc\r",
        b"one\n\ntwo\n\n\nthree",
        b"x\n\xff\xfe bad \xe2\x82 \nok\n\xe2\x82",
        "h\u{e9}llo w\u{f6}rld \u{20ac}\n\u{1F600}\n".as_bytes(),
        long.as_bytes(),
    ];
    for content in contents {
        check_content(content);
    }
}

#[test]
fn lines_of_random_contents() {
    let mut state = 17u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = [b'a', b'b', b'\n', b'\n', b'\r', 0xff, 0xc3, 0xa9, 0xe2, 0x82, 0xac];
    for _ in 0..60 {
        let len = (next() % 80) as usize;
        let content: Vec<u8> =
            (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
        check_content(&content);
    }
}

#[test]
fn large_file_with_a_line_longer_than_the_buffer() {
    let mut content = Vec::new();
    for i in 0..50_000 {
        content.extend_from_slice(format!("line {i} with some words\n").as_bytes());
        if i == 20_000 {
            content.extend(std::iter::repeat_n(b'y', 3 * READ_BUFFER + 17));
            content.extend_from_slice(b"\r\n");
        }
        if i == 30_000 {
            content.extend_from_slice(b"bad \xff byte\n");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big");
    std::fs::write(&path, &content).unwrap();
    let expected = expected_lines(&content);
    let len = content.len() as u64;
    for size in [100_000, 1 << 20, len] {
        assert_eq!(read_splits(&cut(&path, len, size), 64 << 10), expected, "split size {size}");
    }
    let mut batches = 0;
    read_split_lines(&cut(&path, len, len)[0], &stores(), 4096, |b: &Batch| {
        assert!(b.byte_len() < 4096 + 3 * READ_BUFFER + 100);
        batches += 1;
        Ok::<(), std::convert::Infallible>(())
    })
    .unwrap();
    assert!(batches > 100, "{batches}");
}

#[test]
fn consumer_error_stops_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, "a\nb\nc\n").unwrap();
    let split = FileSplit { path: path.clone(), start: 0, end: 6 };
    let err = read_split_lines(&split, &stores(), 1, |_: &Batch| Err("full")).unwrap_err();
    assert!(matches!(err, ReadError::Sink("full")));
    let missing = FileSplit { path: dir.path().join("gone"), start: 0, end: 6 };
    let err = read_split_lines(&missing, &stores(), 1, |_: &Batch| Ok::<(), &str>(())).unwrap_err();
    assert!(matches!(err, ReadError::Io { .. }));
    assert!(err.to_string().contains("gone"), "{err}");
}

#[test]
fn directory_listing_is_sorted_and_skips_hidden_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    for (name, content) in
        [("b.txt", "b1\nb2\n"), ("a.txt", "a1\n"), (".hidden", "h\n"), ("_SUCCESS", ""), ("c", "")]
    {
        std::fs::write(p.join(name), content).unwrap();
    }
    std::fs::create_dir(p.join("sub")).unwrap();
    std::fs::write(p.join("sub/x"), "x\n").unwrap();
    let files = list_files(p).unwrap();
    let names: Vec<_> =
        files.iter().map(|(f, _)| f.file_name().unwrap().to_str().unwrap()).collect();
    assert_eq!(names, ["a.txt", "b.txt", "c"]);
    let splits = list_splits(path_str(p), &stores(), 1, u64::MAX).unwrap();
    assert_eq!(splits.len(), 3, "{splits:?}");
    assert_eq!(splits[2], FileSplit { path: p.join("c"), start: 0, end: 0 });
    assert_eq!(read_splits(&splits, 1 << 20), ["a1", "b1", "b2"]);
}

#[test]
fn missing_path_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = list_splits(path_str(&missing), &stores(), 2, 100).unwrap_err();
    assert!(matches!(err, InputError::NotFound { .. }));
    assert_eq!(err.to_string(), format!("input path does not exist: {}", missing.display()));
}

#[test]
fn split_sizes_follow_hadoop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, vec![b'x'; 1000]).unwrap();
    let ranges = |min: u32, max: u64| -> Vec<(u64, u64)> {
        list_splits(path_str(&path), &stores(), min, max)
            .unwrap()
            .iter()
            .map(|s| (s.start, s.end))
            .collect()
    };
    assert_eq!(ranges(1, 128 << 20), [(0, 1000)]);
    assert_eq!(ranges(0, 128 << 20), [(0, 1000)]);
    assert_eq!(ranges(4, 128 << 20), [(0, 250), (250, 500), (500, 750), (750, 1000)]);
    // 334 / 333 is within the 10 % slop: the last split absorbs it.
    assert_eq!(ranges(3, 128 << 20), [(0, 333), (333, 666), (666, 1000)]);
    assert_eq!(ranges(1, 100).len(), 10);
    assert_eq!(ranges(1, 910), [(0, 1000)]);
    assert_eq!(ranges(1, 900), [(0, 900), (900, 1000)]);
    assert_eq!(ranges(1, 0).len(), 1000);
    assert_eq!(ranges(5000, 128 << 20).len(), 1000);

    let empty = dir.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    assert_eq!(
        list_splits(path_str(&empty), &stores(), 4, 100).unwrap(),
        [FileSplit { path: empty.clone(), start: 0, end: 0 }]
    );
    assert!(read_splits(&list_splits(path_str(&empty), &stores(), 4, 100).unwrap(), 10).is_empty());
}

/// Clients with the default settings (the tests read local files only).
fn stores() -> std::sync::Arc<Stores> {
    Stores::new(crate::store::StoreSettings::default())
}

/// A path as the `text-file` argument.
fn path_str(p: &(impl AsRef<std::path::Path> + ?Sized)) -> &str {
    p.as_ref().to_str().unwrap()
}
