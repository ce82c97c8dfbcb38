/* The C SDK's built-in helpers (wisp.h, "built-in functions") in a job, for
 * tests/it/c_guest.rs. Modes:
 *   wordcount INPUT OUTPUT  a word count made of built-ins only, ending in format_pair
 *   csv DIR                 parse-and-aggregate DIR/rows.csv (and DIR/rows.tsv, DIR/objs.jsonl) with
 *                           built-ins; prints `name<TAB>record` lines
 *   bad DIR                 parse_int over a CSV column holding a non-number (DIR/bad.csv in 4 slices):
 *                           the job fails naming the built-in, the record and the partition */
#include <stdio.h>
#include <string.h>

#include "wisp.h"

/* The job's own function, between built-ins: drops the CSV header. */
static int not_header(wisp_bytes line, bool *keep) {
    *keep = !(line.len >= 4 && memcmp(line.ptr, "key,", 4) == 0);
    return 0;
}

WISP_FUNCTIONS(WISP_FILTER(not_header));

/* Prints every record (a string) of `rdd` as `name<TAB>record`. */
static int print_all(const char *name, wisp_rdd rdd) {
    wisp_batch b = {0};
    if (wisp_collect(rdd, &b) != 0) return -1;
    for (size_t i = 0; i < wisp_batch_len(&b); i++) {
        wisp_bytes r = wisp_batch_get(&b, i);
        printf("%s\t%.*s\n", name, (int)r.len, (const char *)r.ptr);
    }
    wisp_batch_free(&b);
    return 0;
}

/* Prints each key's aggregate as `name<TAB>key=value`. */
static int print_by_key(const char *name, wisp_rdd pairs, wisp_builtin_aggregator a, wisp_text_type value) {
    wisp_rdd agg = wisp_reduce_by_key_builtin(pairs, a, 0);
    return print_all(name, wisp_map_builtin(agg, wisp_b_format_pair(WISP_TEXT_STR, value, "=")));
}

/* Counts the records of `rdd` per record, printed as `name<TAB>record=count`. */
static int print_counts(const char *name, wisp_rdd rdd, wisp_text_type type) {
    wisp_rdd counts = wisp_reduce_by_key_builtin(wisp_map_builtin(rdd, wisp_b_pair_with_one()), WISP_B_SUM, 3);
    return print_all(name, wisp_map_builtin(counts, wisp_b_format_pair(type, WISP_TEXT_S64, "=")));
}

/* Prints the driver-side reduce of `rdd` (s64 or f64 records). */
static int print_reduce(const char *name, wisp_rdd rdd, wisp_builtin_aggregator a, bool f64) {
    wisp_buf out = {0};
    bool found;
    if (wisp_reduce_builtin(rdd, a, &out, &found) != 0) return -1;
    if (!found) return wisp_fail("%s: empty", name);
    int rc = 0;
    if (f64) {
        double v;
        rc = wisp_get_f64(wisp_buf_bytes(&out), &v);
        if (rc == 0) printf("%s\t%.17g\n", name, v);
    } else {
        int64_t v;
        rc = wisp_get_s64(wisp_buf_bytes(&out), &v);
        if (rc == 0) printf("%s\t%lld\n", name, (long long)v);
    }
    wisp_buf_free(&out);
    return rc;
}

static int wordcount(const char *input, const char *output) {
    uint32_t parts = wisp_default_parallelism();
    wisp_rdd lines = wisp_text_file(input, parts > 8 ? parts : 8);
    wisp_rdd pairs = wisp_map_builtin(wisp_flat_map_builtin(lines, wisp_b_split_whitespace()), wisp_b_pair_with_one());
    wisp_rdd counts = wisp_reduce_by_key_builtin(pairs, WISP_B_SUM, 0);
    return wisp_save_as_text_file(wisp_map_builtin(counts, wisp_b_format_pair(WISP_TEXT_STR, WISP_TEXT_S64, "\t")),
                                  output);
}

static int csv(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/rows.csv", dir);
    wisp_rdd rows = wisp_filter(wisp_text_file(path, 4), not_header);
    wisp_rdd keyed = wisp_key_by_builtin(rows, wisp_b_csv_field(0));
    wisp_rdd amounts = wisp_map_values_builtin(wisp_map_values_builtin(keyed, wisp_b_csv_field(2)), wisp_b_parse_int());
    wisp_rdd prices =
        wisp_map_values_builtin(wisp_map_values_builtin(keyed, wisp_b_csv_field(3)), wisp_b_parse_float());
    wisp_rdd names = wisp_map_values_builtin(wisp_map_values_builtin(keyed, wisp_b_csv_field(1)), wisp_b_trim());
    if (print_by_key("sum", amounts, WISP_B_SUM, WISP_TEXT_S64) != 0 ||
        print_by_key("count", keyed, WISP_B_COUNT, WISP_TEXT_S64) != 0 ||
        print_by_key("min", amounts, WISP_B_MIN, WISP_TEXT_S64) != 0 ||
        print_by_key("max", amounts, WISP_B_MAX, WISP_TEXT_S64) != 0 ||
        print_by_key("sum_float", prices, WISP_B_SUM_FLOAT, WISP_TEXT_F64) != 0 ||
        print_by_key("mean", prices, WISP_B_MEAN, WISP_TEXT_F64) != 0 ||
        print_by_key("min_name", names, WISP_B_MIN, WISP_TEXT_STR) != 0 ||
        print_by_key("max_name", names, WISP_B_MAX, WISP_TEXT_STR) != 0)
        return -1;
    wisp_rdd name_words = wisp_flat_map_values_builtin(names, wisp_b_split_whitespace());
    if (print_by_key("words_per_key", name_words, WISP_B_COUNT, WISP_TEXT_S64) != 0) return -1;

    wisp_rdd name_col = wisp_map_builtin(wisp_map_builtin(rows, wisp_b_csv_field(1)), wisp_b_trim());
    wisp_rdd amount_col = wisp_map_builtin(wisp_map_builtin(rows, wisp_b_csv_field(2)), wisp_b_parse_int());
    wisp_rdd price_col = wisp_map_builtin(wisp_map_builtin(rows, wisp_b_csv_field(3)), wisp_b_parse_float());
    if (print_all("lower", wisp_map_builtin(name_col, wisp_b_lower())) != 0 ||
        print_counts("upper_keys", wisp_map_builtin(wisp_map_builtin(rows, wisp_b_csv_field(0)), wisp_b_upper()),
                     WISP_TEXT_STR) != 0 ||
        print_counts("words", wisp_flat_map_builtin(name_col, wisp_b_split_whitespace()), WISP_TEXT_STR) != 0 ||
        print_counts("amounts", amount_col, WISP_TEXT_S64) != 0 ||
        print_counts("prices", price_col, WISP_TEXT_F64) != 0)
        return -1;
    wisp_rdd indexed = wisp_zip_with_index(wisp_map_builtin(rows, wisp_b_csv_field(0)));
    if (print_all("indexed", wisp_map_builtin(indexed, wisp_b_format_pair(WISP_TEXT_STR, WISP_TEXT_U64, ":"))) != 0)
        return -1;
    uint64_t pieces;
    if (wisp_count(wisp_flat_map_builtin(rows, wisp_b_split(",")), &pieces) != 0) return -1;
    printf("pieces\t%llu\n", (unsigned long long)pieces);
    if (print_reduce("reduce_sum", amount_col, WISP_B_SUM, false) != 0 ||
        print_reduce("reduce_min", amount_col, WISP_B_MIN, false) != 0 ||
        print_reduce("reduce_max", amount_col, WISP_B_MAX, false) != 0 ||
        print_reduce("reduce_sum_float", price_col, WISP_B_SUM_FLOAT, true) != 0)
        return -1;

    snprintf(path, sizeof path, "%s/rows.tsv", dir);
    if (print_all("tsv", wisp_map_builtin(wisp_text_file(path, 2), wisp_b_tsv_field(1))) != 0) return -1;
    snprintf(path, sizeof path, "%s/objs.jsonl", dir);
    if (print_all("json", wisp_map_builtin(wisp_text_file(path, 2), wisp_b_json_field("name"))) != 0) return -1;

    /* Refused when the transformation is made: a splitter as a map, an empty delimiter. */
    if (wisp_map_builtin(rows, wisp_b_split_whitespace()) != WISP_NO_RDD) return wisp_fail("wrong kind accepted");
    printf("wrong_kind\t%s\n", wisp_error());
    if (wisp_flat_map_builtin(rows, wisp_b_split("")) != WISP_NO_RDD) return wisp_fail("empty delimiter accepted");
    printf("empty_delimiter\t%s\n", wisp_error());
    return 0;
}

static int bad(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    wisp_batch lines = {0};
    if (wisp_collect(wisp_text_file(path, 1), &lines) != 0) return -1;
    wisp_rdd rows = wisp_parallelize(&lines, 4);
    wisp_batch_free(&lines);
    wisp_rdd keyed = wisp_key_by_builtin(rows, wisp_b_csv_field(0));
    wisp_rdd amounts = wisp_map_values_builtin(wisp_map_values_builtin(keyed, wisp_b_csv_field(2)), wisp_b_parse_int());
    uint64_t n;
    return wisp_count(wisp_reduce_by_key_builtin(amounts, WISP_B_SUM, 2), &n);
}

int wisp_main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[0], "wordcount") == 0) return wordcount(argv[1], argv[2]);
    if (argc == 2 && strcmp(argv[0], "csv") == 0) return csv(argv[1]);
    if (argc == 2 && strcmp(argv[0], "bad") == 0) return bad(argv[1]);
    return wisp_fail("expected `wordcount INPUT OUTPUT`, `csv DIR` or `bad DIR`");
}
