/* Exercises the C SDK's shared variables, checkpoints and the rest of the
 * RDD API; prints one `name=value` line per check, which tests/it/c_guest.rs
 * compares with answers computed in Rust.
 * Usage: wisp run shared_job.wasm -- MODE DIR, MODE one of
 *   all            everything; DIR holds latin1.txt and texts/ (written by
 *                  the test), checkpoints go to DIR/ckpt
 *   destroyed      a job reads a destroyed broadcast (fails)
 *   no-checkpoint  checkpoint without a checkpoint directory (fails)
 *   too-big        a 4 KiB broadcast (fails under a smaller wisp.broadcast.maxBytes)
 * or wisp run shared_job.wasm -- tree: tree_aggregate at depths 1..4 with a
 * comb_op that counts its calls inside tasks (accumulator 0),
 * or wisp run shared_job.wasm -- accumulate N P: the accumulators of 1..=N in
 * P partitions, added in the map stage of a shuffle (for the fault tests). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wisp.h"

static int64_t s64_of(wisp_bytes b) {
    int64_t v = 0;
    if (wisp_get_s64(b, &v) != 0) wisp_panic("not an s64: %s", wisp_error());
    return v;
}

static uint64_t u64_of(wisp_bytes b) {
    uint64_t v = 0;
    if (wisp_get_u64(b, &v) != 0) wisp_panic("not a u64: %s", wisp_error());
    return v;
}

/* ------------------------------------------------------------- functions */

/* map with args {table, seen}: x -> table[x % 10] (table: a broadcast list<s64>);
 * checks the value's bytes stay where they were (fetched once per instance)
 * and adds 1 to `seen` on the first read of each instance. */
static int look_up(wisp_bytes rec, wisp_buf *out) {
    static const uint8_t *first;
    uint32_t table, seen;
    wisp_bytes v, cur, item = {0};
    if (wisp_op_arg_u32(0, &table) != 0 || wisp_op_arg_u32(1, &seen) != 0) return -1;
    if (wisp_broadcast_value(table, &v) != 0) return -1;
    if (first == NULL) {
        first = v.ptr;
        if (wisp_accumulator_add_s64(seen, 1) != 0) return -1;
    } else if (first != v.ptr) {
        return wisp_fail("the broadcast value was fetched again");
    }
    int64_t i = s64_of(rec) % 10;
    cur = v;
    for (int64_t k = 0; k <= i; k++)
        if (wisp_next_field(&cur, &item) != 0) return -1;
    wisp_put_raw(out, item.ptr, item.len);
    return 0;
}

/* map with args {long_sum, double_sum, long_min, long_max, double_min, double_max, collection}: x -> x, adding to each. */
static int count_things(wisp_bytes rec, wisp_buf *out) {
    uint32_t a[7];
    for (size_t i = 0; i < 7; i++)
        if (wisp_op_arg_u32(i, &a[i]) != 0) return -1;
    int64_t x = s64_of(rec);
    if (wisp_accumulator_add_s64(a[0], x) != 0 || wisp_accumulator_add_f64(a[1], (double)x / 2) != 0 ||
        wisp_accumulator_add_s64(a[2], x) != 0 || wisp_accumulator_add_s64(a[3], x) != 0 ||
        wisp_accumulator_add_f64(a[4], (double)x * 1.5) != 0 || wisp_accumulator_add_f64(a[5], (double)x * 1.5) != 0)
        return -1;
    if (x % 25 == 0 && wisp_accumulator_add(a[6], rec.ptr, rec.len) != 0) return -1;
    wisp_put_raw(out, rec.ptr, rec.len);
    return 0;
}

static int square(wisp_bytes rec, wisp_buf *out) {
    int64_t v = s64_of(rec);
    wisp_put_s64(out, v * v);
    return 0;
}

static int sum_s64(wisp_bytes a, wisp_bytes b, wisp_buf *out) {
    wisp_put_s64(out, s64_of(a) + s64_of(b));
    return 0;
}

/* (x * 37) % 101: 1..=100 in a scrambled order. */
static int scramble(wisp_bytes rec, wisp_buf *out) {
    wisp_put_s64(out, s64_of(rec) * 37 % 101);
    return 0;
}

/* Orders s64 records by their last digit, then by value. */
static int by_last_digit(wisp_bytes a, wisp_bytes b) {
    int64_t x = s64_of(a), y = s64_of(b);
    if (x % 10 != y % 10) return x % 10 < y % 10 ? -1 : 1;
    return x < y ? -1 : (x > y ? 1 : 0);
}

static int mod7(wisp_bytes rec, wisp_buf *out) {
    wisp_put_s64(out, s64_of(rec) % 7);
    return 0;
}

static int mod10(wisp_bytes rec, wisp_buf *out) {
    wisp_put_s64(out, s64_of(rec) % 10);
    return 0;
}

static int is_even(wisp_bytes rec, bool *keep) {
    *keep = s64_of(rec) % 2 == 0;
    return 0;
}

static int is_mult3(wisp_bytes rec, bool *keep) {
    *keep = s64_of(rec) % 3 == 0;
    return 0;
}

static int small_key(wisp_bytes rec, bool *keep) {
    wisp_bytes k, v;
    if (wisp_split_pair(rec, &k, &v) != 0) return -1;
    *keep = s64_of(k) < 5;
    return 0;
}

/* s64 x -> f64 x / 4. */
static int quarter(wisp_bytes rec, wisp_buf *out) {
    wisp_put_f64(out, (double)s64_of(rec) / 4);
    return 0;
}

static int64_t add(int64_t a, int64_t b) { return a + b; }

/* comb_op of the tree mode: a + b, counting the calls made inside tasks in
 * accumulator 0 (the driver's own calls are refused and not counted). */
static int counted_sum(wisp_bytes a, wisp_bytes b, wisp_buf *out) {
    if (wisp_accumulator_add_s64(0, 1) != 0) wisp_clear_error();
    wisp_put_s64(out, s64_of(a) + s64_of(b));
    return 0;
}

static int never(wisp_bytes rec, bool *keep) {
    *keep = false;
    return 0;
}

WISP_FUNCTIONS(WISP_MAP(look_up), WISP_MAP(count_things), WISP_MAP(square), WISP_REDUCER(sum_s64), WISP_MAP(scramble),
               WISP_COMPARATOR(by_last_digit), WISP_MAP(mod7), WISP_MAP(mod10), WISP_FILTER(is_even),
               WISP_FILTER(is_mult3), WISP_FILTER(small_key), WISP_MAP(quarter), WISP_FILTER(never),
               WISP_REDUCER_S64(add), WISP_REDUCER(counted_sum));

/* ----------------------------------------------------------------- output */

static int cmp_s64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

/* "name=a,b,c" of the s64 records in their order (sorted first when `sort`). */
static void print_s64s(const char *name, const wisp_batch *b, bool sort) {
    int64_t *v = calloc(b->count ? b->count : 1, sizeof(int64_t));
    for (size_t i = 0; i < b->count; i++) v[i] = s64_of(wisp_batch_get(b, i));
    if (sort) qsort(v, b->count, sizeof(int64_t), cmp_s64);
    printf("%s=", name);
    for (size_t i = 0; i < b->count; i++) printf("%s%" PRId64, i ? "," : "", v[i]);
    printf("\n");
    free(v);
}

/* "name=k:v,..." of (s64, u64) pairs sorted by key. */
static void print_s64_u64_pairs(const char *name, const wisp_batch *b) {
    int64_t(*kv)[2] = calloc(b->count ? b->count : 1, sizeof(*kv));
    for (size_t i = 0; i < b->count; i++) {
        wisp_bytes k, v;
        if (wisp_split_pair(wisp_batch_get(b, i), &k, &v) != 0) wisp_panic("not a pair");
        kv[i][0] = s64_of(k);
        kv[i][1] = (int64_t)u64_of(v);
    }
    qsort(kv, b->count, sizeof(*kv), cmp_s64);
    printf("%s=", name);
    for (size_t i = 0; i < b->count; i++) printf("%s%" PRId64 ":%" PRId64, i ? "," : "", kv[i][0], kv[i][1]);
    printf("\n");
    free(kv);
}

static wisp_rdd numbers(int64_t from, int64_t to, uint32_t slices) {
    wisp_batch nums = {0};
    wisp_buf b = {0};
    for (int64_t i = from; i <= to; i++) {
        wisp_buf_clear(&b);
        wisp_put_s64(&b, i);
        wisp_batch_push(&nums, b.ptr, b.len);
    }
    wisp_rdd r = wisp_parallelize(&nums, slices);
    wisp_batch_free(&nums);
    wisp_buf_free(&b);
    return r;
}

#define CHECK(call)                                                                                                    \
    do {                                                                                                               \
        if ((call) != 0) return -1;                                                                                    \
    } while (0)

/* ----------------------------------------------------------------- checks */

static int shared_variables(wisp_rdd xs) {
    /* Broadcast: a table of squares 0..9 as list<s64>. */
    wisp_buf table = {0}, out = {0};
    for (int64_t i = 0; i < 10; i++) {
        size_t m = wisp_put_field_begin(&table);
        wisp_put_s64(&table, i * i);
        wisp_put_field_end(&table, m);
    }
    wisp_broadcast bc;
    wisp_accumulator seen;
    CHECK(wisp_broadcast_create(table.ptr, table.len, &bc));
    CHECK(wisp_accumulator_create(WISP_ACC_LONG_SUM, &seen));
    uint32_t args[2] = {bc, seen};
    bool found;
    CHECK(wisp_reduce(wisp_map_with(xs, look_up, args, sizeof args), sum_s64, &out, &found));
    int64_t instances = 0;
    bool present;
    CHECK(wisp_accumulator_value_s64(seen, &instances, &present));
    printf("broadcast_sum=%" PRId64 " first_reads=%" PRId64 "\n", s64_of(wisp_buf_bytes(&out)), instances);
    wisp_bytes v;
    CHECK(wisp_broadcast_value(bc, &v));
    printf("broadcast_on_driver_bytes=%zu same=%d\n", v.len, v.len == table.len && memcmp(v.ptr, table.ptr, v.len) == 0);
    CHECK(wisp_broadcast_unpersist(bc));
    CHECK(wisp_broadcast_destroy(bc));
    printf("destroy_again=%s\n", wisp_broadcast_destroy(bc) != 0 ? "refused" : "accepted");
    wisp_clear_error();

    /* Accumulators of every kind, added in a map, read after one action. */
    wisp_accumulator a[7];
    for (int k = 0; k < 7; k++) CHECK(wisp_accumulator_create((wisp_accumulator_kind)k, &a[k]));
    wisp_accumulator untouched;
    CHECK(wisp_accumulator_create(WISP_ACC_LONG_MIN, &untouched));
    uint64_t n;
    CHECK(wisp_count(wisp_map_with(xs, count_things, a, sizeof a), &n));
    int64_t ls, lmin, lmax;
    double ds, dmin, dmax;
    CHECK(wisp_accumulator_value_s64(a[0], &ls, &present));
    CHECK(wisp_accumulator_value_f64(a[1], &ds, &present));
    CHECK(wisp_accumulator_value_s64(a[2], &lmin, &present));
    CHECK(wisp_accumulator_value_s64(a[3], &lmax, &present));
    CHECK(wisp_accumulator_value_f64(a[4], &dmin, &present));
    CHECK(wisp_accumulator_value_f64(a[5], &dmax, &present));
    printf("accumulators count=%llu long_sum=%" PRId64 " double_sum=%.17g long_min=%" PRId64 " long_max=%" PRId64
           " double_min=%.17g double_max=%.17g\n",
           (unsigned long long)n, ls, ds, lmin, lmax, dmin, dmax);
    wisp_batch coll = {0};
    CHECK(wisp_accumulator_value_collection(a[6], &coll));
    print_s64s("collection", &coll, true);
    wisp_batch_free(&coll);
    int64_t none_value = 0;
    CHECK(wisp_accumulator_value_s64(untouched, &none_value, &present));
    printf("untouched_min_present=%d\n", present);
    printf("double_read_as_long=%s\n", wisp_accumulator_value_s64(a[1], &ls, &present) != 0 ? wisp_error() : "accepted");
    wisp_clear_error();
    printf("add_from_main=%s\n", wisp_accumulator_add_s64(a[0], 1) != 0 ? wisp_error() : "accepted");
    wisp_clear_error();
    /* A second action over the same uncached RDD counts again (once per job). */
    CHECK(wisp_count(wisp_map_with(xs, count_things, a, sizeof a), &n));
    CHECK(wisp_accumulator_value_s64(a[0], &ls, &present));
    printf("long_sum_after_two_jobs=%" PRId64 "\n", ls);
    wisp_buf_free(&table);
    wisp_buf_free(&out);
    return 0;
}

static int checkpoints(wisp_rdd xs, const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/ckpt", dir);
    CHECK(wisp_set_checkpoint_dir(path));
    wisp_rdd squares = wisp_checkpoint(wisp_map(xs, square));
    uint64_t n;
    wisp_buf out = {0};
    bool found;
    CHECK(wisp_count(squares, &n));
    CHECK(wisp_reduce(squares, sum_s64, &out, &found));
    uint32_t parts;
    CHECK(wisp_num_partitions(squares, &parts));
    printf("checkpoint count=%llu sum=%" PRId64 " partitions=%u\n", (unsigned long long)n, s64_of(wisp_buf_bytes(&out)),
           parts);
    wisp_rdd local = wisp_local_checkpoint(wisp_map(xs, scramble));
    wisp_buf_clear(&out);
    CHECK(wisp_reduce(local, sum_s64, &out, &found));
    printf("local_checkpoint sum=%" PRId64 "\n", s64_of(wisp_buf_bytes(&out)));
    wisp_buf_free(&out);
    return 0;
}

static int more_api(wisp_rdd xs, const char *dir) {
    wisp_batch b = {0};
    wisp_rdd ys = wisp_map(xs, scramble);
    CHECK(wisp_take_ordered(ys, 5, NULL, &b));
    print_s64s("take_ordered", &b, false);
    wisp_batch_free(&b);
    CHECK(wisp_top(ys, 5, NULL, &b));
    print_s64s("top", &b, false);
    wisp_batch_free(&b);
    CHECK(wisp_take_ordered(ys, 5, by_last_digit, &b));
    print_s64s("take_ordered_by_last_digit", &b, false);
    wisp_batch_free(&b);
    CHECK(wisp_top(ys, 3, by_last_digit, &b));
    print_s64s("top_by_last_digit", &b, false);
    wisp_batch_free(&b);

    CHECK(wisp_count_by_value(wisp_map(xs, mod7), &b));
    print_s64_u64_pairs("count_by_value_mod7", &b);
    wisp_batch_free(&b);

    wisp_rdd evens = wisp_filter(xs, is_even);
    CHECK(wisp_collect(wisp_zip_with_index(evens), &b));
    print_s64_u64_pairs("zip_with_index", &b);
    wisp_batch_free(&b);
    CHECK(wisp_collect(wisp_zip_with_unique_id(evens), &b));
    print_s64_u64_pairs("zip_with_unique_id", &b);
    wisp_batch_free(&b);

    wisp_rdd twice[2] = {xs, xs};
    CHECK(wisp_collect(wisp_subtract(wisp_union(twice, 2), wisp_filter(xs, is_mult3), 0), &b));
    print_s64s("subtract", &b, true);
    wisp_batch_free(&b);
    wisp_rdd by10 = wisp_key_by(xs, mod10);
    CHECK(wisp_collect(wisp_map(wisp_filter(wisp_subtract_by_key(by10, wisp_filter(by10, small_key), 3), small_key),
                                mod10),
                       &b));
    printf("subtract_by_key_small_left=%zu\n", b.count);
    wisp_batch_free(&b);
    uint64_t n;
    CHECK(wisp_count(wisp_subtract_by_key(by10, wisp_filter(by10, small_key), 3), &n));
    printf("subtract_by_key_count=%llu\n", (unsigned long long)n);
    CHECK(wisp_collect(wisp_intersection(wisp_map(xs, mod7), wisp_filter(wisp_map(xs, mod10), is_even), 2), &b));
    print_s64s("intersection", &b, true);
    wisp_batch_free(&b);

    wisp_rdd small = numbers(1, 3, 2), other = numbers(10, 11, 1);
    CHECK(wisp_collect(wisp_cartesian(small, other), &b));
    printf("cartesian=");
    for (size_t i = 0; i < b.count; i++) {
        wisp_bytes x, y;
        if (wisp_split_pair(wisp_batch_get(&b, i), &x, &y) != 0) return -1;
        printf("%s%" PRId64 "x%" PRId64, i ? "," : "", s64_of(x), s64_of(y));
    }
    printf("\n");
    wisp_batch_free(&b);

    CHECK(wisp_collect(wisp_glom(xs), &b));
    printf("glom=");
    for (size_t i = 0; i < b.count; i++) {
        wisp_bytes list = wisp_batch_get(&b, i), item;
        size_t len = 0;
        int64_t first = -1;
        while (list.len > 0) {
            if (wisp_next_field(&list, &item) != 0) return -1;
            if (len++ == 0) first = s64_of(item);
        }
        printf("%s%zu:%" PRId64, i ? "," : "", len, first);
    }
    printf("\n");
    wisp_batch_free(&b);

    wisp_buf key = {0};
    wisp_put_s64(&key, 3);
    CHECK(wisp_lookup(wisp_key_by(xs, mod7), key.ptr, key.len, &b));
    print_s64s("lookup_3", &b, true);
    wisp_batch_free(&b);
    wisp_buf_free(&key);

    wisp_rdd qs = wisp_map(xs, quarter);
    double sum, mean;
    wisp_stats st;
    CHECK(wisp_sum(qs, &sum));
    CHECK(wisp_mean(qs, &mean));
    CHECK(wisp_stats_of(qs, &st));
    printf("numbers sum=%.17g mean=%.17g count=%llu min=%.17g max=%.17g variance=%.17g sample_variance=%.17g\n", sum,
           mean, (unsigned long long)st.count, st.min, st.max, wisp_stats_variance(&st),
           wisp_stats_sample_variance(&st));
    wisp_rdd none = wisp_filter(qs, never);
    CHECK(wisp_sum(none, &sum));
    CHECK(wisp_mean(none, &mean));
    printf("empty sum=%g mean=%g\n", sum, mean);

    wisp_rdd big = numbers(1, 1000, 10);
    wisp_buf zero = {0}, out = {0};
    wisp_put_s64(&zero, 1000);
    for (uint32_t depth = 1; depth <= 3; depth++) {
        wisp_buf_clear(&out);
        CHECK(wisp_tree_aggregate(big, wisp_buf_bytes(&zero), sum_s64, sum_s64, depth, &out));
        printf("tree_aggregate_depth%u=%" PRId64 "\n", depth, s64_of(wisp_buf_bytes(&out)));
    }
    bool found;
    wisp_buf_clear(&out);
    CHECK(wisp_tree_reduce(wisp_map(big, square), sum_s64, 2, &out, &found));
    printf("tree_reduce=%" PRId64 " found=%d\n", s64_of(wisp_buf_bytes(&out)), found);
    wisp_buf_clear(&out);
    CHECK(wisp_tree_reduce(wisp_filter(big, never), sum_s64, 2, &out, &found));
    printf("tree_reduce_empty found=%d\n", found);
    wisp_buf_free(&zero);
    wisp_buf_free(&out);

    char path[4096];
    snprintf(path, sizeof path, "%s/latin1.txt", dir);
    CHECK(wisp_collect(wisp_binary_lines(path, 2), &b));
    printf("binary_lines=");
    for (size_t i = 0; i < b.count; i++) {
        wisp_bytes line = wisp_batch_get(&b, i);
        printf("%s", i ? "," : "");
        for (size_t j = 0; j < line.len; j++) printf("%02x", line.ptr[j]);
    }
    printf("\n");
    wisp_batch_free(&b);

    snprintf(path, sizeof path, "%s/texts", dir);
    CHECK(wisp_collect(wisp_whole_text_files(path, 1), &b));
    printf("whole_text_files=");
    for (size_t i = 0; i < b.count; i++) {
        wisp_bytes p, content;
        if (wisp_split_pair(wisp_batch_get(&b, i), &p, &content) != 0) return -1;
        size_t base = p.len;
        while (base > 0 && p.ptr[base - 1] != '/') base--;
        printf("%s%.*s:", i ? "," : "", (int)(p.len - base), (const char *)p.ptr + base);
        for (size_t j = 0; j < content.len; j++) putchar(content.ptr[j] == '\n' ? '|' : content.ptr[j]);
    }
    printf("\n");
    wisp_batch_free(&b);
    return 0;
}

/* The accumulators of every kind over 1..=n in p partitions, through a shuffle. */
static int accumulate(int64_t n, uint32_t p) {
    wisp_accumulator a[7];
    for (int k = 0; k < 7; k++) CHECK(wisp_accumulator_create((wisp_accumulator_kind)k, &a[k]));
    wisp_rdd counted = wisp_map_with(numbers(1, n, p), count_things, a, sizeof a);
    uint64_t keys;
    CHECK(wisp_count(wisp_reduce_by_key_s64(wisp_key_by(counted, mod7), add, 3), &keys));
    int64_t ls, lmin, lmax;
    double ds, dmin, dmax;
    bool present;
    CHECK(wisp_accumulator_value_s64(a[0], &ls, &present));
    CHECK(wisp_accumulator_value_f64(a[1], &ds, &present));
    CHECK(wisp_accumulator_value_s64(a[2], &lmin, &present));
    CHECK(wisp_accumulator_value_s64(a[3], &lmax, &present));
    CHECK(wisp_accumulator_value_f64(a[4], &dmin, &present));
    CHECK(wisp_accumulator_value_f64(a[5], &dmax, &present));
    printf("keys=%llu long_sum=%" PRId64 " double_sum=%.17g long_min=%" PRId64 " long_max=%" PRId64
           " double_min=%.17g double_max=%.17g\n",
           (unsigned long long)keys, ls, ds, lmin, lmax, dmin, dmax);
    wisp_batch coll = {0};
    CHECK(wisp_accumulator_value_collection(a[6], &coll));
    print_s64s("collection", &coll, true);
    wisp_batch_free(&coll);
    return 0;
}

/* tree_aggregate over 1..=1000 in `parts` partitions at depths 1..4: value and comb_op calls in tasks. */
static int tree_levels(wisp_accumulator calls, uint32_t parts) {
    wisp_rdd big = numbers(1, 1000, parts);
    wisp_buf zero = {0}, out = {0};
    wisp_put_s64(&zero, 0);
    int64_t before, after;
    bool present;
    CHECK(wisp_accumulator_value_s64(calls, &before, &present));
    for (uint32_t depth = 1; depth <= 4; depth++) {
        wisp_buf_clear(&out);
        CHECK(wisp_tree_aggregate(big, wisp_buf_bytes(&zero), sum_s64, counted_sum, depth, &out));
        CHECK(wisp_accumulator_value_s64(calls, &after, &present));
        printf("parts=%u depth=%u value=%" PRId64 " task_comb_calls=%" PRId64 "\n", parts, depth,
               s64_of(wisp_buf_bytes(&out)), after - before);
        before = after;
    }
    wisp_buf_free(&zero);
    wisp_buf_free(&out);
    return 0;
}

int wisp_main(int argc, char **argv) {
    if (argc == 1 && strcmp(argv[0], "tree") == 0) {
        wisp_accumulator calls;
        CHECK(wisp_accumulator_create(WISP_ACC_LONG_SUM, &calls));
        if (calls != 0) return wisp_fail("expected accumulator 0, got %u", (unsigned)calls);
        CHECK(tree_levels(calls, 10));
        return tree_levels(calls, 64);
    }
    if (argc == 3 && strcmp(argv[0], "accumulate") == 0)
        return accumulate(strtoll(argv[1], NULL, 10), (uint32_t)strtoul(argv[2], NULL, 10));
    if (argc != 2) return wisp_fail("expected MODE DIR, got %d arguments", argc);
    const char *mode = argv[0], *dir = argv[1];
    wisp_rdd xs = numbers(1, 100, 4);
    if (strcmp(mode, "destroyed") == 0) {
        wisp_broadcast bc;
        wisp_accumulator seen;
        CHECK(wisp_broadcast_create("\0\0\0\0", 4, &bc));
        CHECK(wisp_accumulator_create(WISP_ACC_LONG_SUM, &seen));
        CHECK(wisp_broadcast_destroy(bc));
        uint32_t args[2] = {bc, seen};
        uint64_t n;
        return wisp_count(wisp_map_with(xs, look_up, args, sizeof args), &n);
    }
    if (strcmp(mode, "too-big") == 0) {
        static uint8_t value[4096];
        wisp_broadcast bc;
        return wisp_broadcast_create(value, sizeof value, &bc);
    }
    if (strcmp(mode, "no-checkpoint") == 0) {
        uint64_t n;
        return wisp_count(wisp_checkpoint(wisp_map(xs, square)), &n);
    }
    if (strcmp(mode, "all") != 0) return wisp_fail("unknown mode %s", mode);
    CHECK(shared_variables(xs));
    CHECK(checkpoints(xs, dir));
    CHECK(more_api(xs, dir));
    return 0;
}
