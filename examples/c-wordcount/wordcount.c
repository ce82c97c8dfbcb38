/* Word count in C: the `word<TAB>count` of every word of a text file or
 * directory. A word is a maximal run of bytes other than ASCII whitespace
 * (space, \t, \n, \f, \r), as Rust's split_ascii_whitespace in the Rust
 * example (examples/wordcount), whose output this matches byte for byte.
 * Usage: wisp run wordcount.wasm INPUT OUTPUT_DIR */
#include <stdio.h>

#include "wisp.h"

static inline int is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }

/* The words of a line (flat-map: string -> strings). */
static int words(wisp_bytes line, wisp_emitter *out) {
    const uint8_t *p = line.ptr;
    size_t n = line.len, i = 0;
    while (i < n) {
        while (i < n && is_space(p[i])) i++;
        size_t start = i;
        while (i < n && !is_space(p[i])) i++;
        if (i > start && wisp_emit(out, p + start, i - start) != 0) return -1;
    }
    return 0;
}

/* word -> (word, 1) (map: string -> pair<string, s64>). */
static int pair_with_one(wisp_bytes word, wisp_buf *out) {
    wisp_put_pair_key(out, word.ptr, word.len);
    wisp_put_s64(out, 1);
    return 0;
}

/* Adds two counts (wrapping, as Rust's release build does). */
static int64_t add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }

/* (word, count) -> "word\tcount" (map: pair<string, s64> -> string). */
static int format_count(wisp_bytes pair, wisp_buf *out) {
    wisp_bytes word, count;
    int64_t n;
    if (wisp_split_pair(pair, &word, &count) != 0 || wisp_get_s64(count, &n) != 0) return -1;
    char digits[24];
    int len = snprintf(digits, sizeof digits, "\t%lld", (long long)n);
    wisp_put_raw(out, word.ptr, word.len);
    wisp_put_raw(out, digits, (size_t)len);
    return 0;
}

WISP_FUNCTIONS(WISP_FLAT_MAP(words), WISP_MAP(pair_with_one), WISP_REDUCER_S64(add), WISP_MAP(format_count));

int wisp_main(int argc, char **argv) {
    if (argc != 2) return wisp_fail("expected INPUT OUTPUT_DIR, got %d arguments", argc);
    uint32_t parts = wisp_default_parallelism();
    wisp_rdd lines = wisp_text_file(argv[0], parts > 8 ? parts : 8);
    wisp_rdd counts = wisp_reduce_by_key_s64(wisp_map(wisp_flat_map(lines, words), pair_with_one), add, 0);
    return wisp_save_as_text_file(wisp_map(counts, format_count), argv[1]);
}
