/* Exercises the C SDK's API beyond the word count: every function kind, the
 * shuffles, the actions. Works on the numbers 1..=100 (s64) in 4 partitions
 * and prints one `name=value` line per check; tests/it/c_guest.rs compares
 * them with answers computed in Rust. Usage: wisp run api_job.wasm */
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

/* filter: even numbers. */
static int is_even(wisp_bytes rec, bool *keep) {
    int64_t v;
    if (wisp_get_s64(rec, &v) != 0) return -1;
    *keep = v % 2 == 0;
    return 0;
}

/* map: x -> x * x. */
static int square(wisp_bytes rec, wisp_buf *out) {
    int64_t v;
    if (wisp_get_s64(rec, &v) != 0) return -1;
    wisp_put_s64(out, v * v);
    return 0;
}

/* reducer on encoded s64: a + b. */
static int sum_bytes(wisp_bytes a, wisp_bytes b, wisp_buf *out) {
    int64_t x, y;
    if (wisp_get_s64(a, &x) != 0 || wisp_get_s64(b, &y) != 0) return -1;
    wisp_put_s64(out, x + y);
    return 0;
}

static int64_t add(int64_t a, int64_t b) { return a + b; }

/* key-by: x -> x % 7. */
static int mod7(wisp_bytes rec, wisp_buf *key) {
    int64_t v;
    if (wisp_get_s64(rec, &v) != 0) return -1;
    wisp_put_s64(key, v % 7);
    return 0;
}

/* map-values: v -> 2v. */
static int twice(wisp_bytes v, wisp_buf *out) {
    int64_t x;
    if (wisp_get_s64(v, &x) != 0) return -1;
    wisp_put_s64(out, 2 * x);
    return 0;
}

/* flat-map-values: v -> v, -v. */
static int plus_minus(wisp_bytes v, wisp_emitter *out) {
    int64_t x;
    if (wisp_get_s64(v, &x) != 0) return -1;
    wisp_put_s64(wisp_emit_begin(out), x);
    if (wisp_emit_end(out) != 0) return -1;
    wisp_put_s64(wisp_emit_begin(out), -x);
    return wisp_emit_end(out);
}

/* map-partitions: the partition's record count, as one s64. */
static int partition_size(const wisp_batch *in, wisp_emitter *out) {
    wisp_put_s64(wisp_emit_begin(out), (int64_t)wisp_batch_len(in));
    return wisp_emit_end(out);
}

/* combine-by-key: (count, sum) per key, stored as tuple<s64, s64>. */
typedef struct count_sum {
    int64_t count, sum;
} count_sum;

static int cs_create(void *st, wisp_bytes v) {
    count_sum *c = st;
    int64_t x;
    if (wisp_get_s64(v, &x) != 0) return -1;
    c->count = 1;
    c->sum = x;
    return 0;
}
static int cs_merge_value(void *st, wisp_bytes v) {
    count_sum *c = st;
    int64_t x;
    if (wisp_get_s64(v, &x) != 0) return -1;
    c->count++;
    c->sum += x;
    return 0;
}
static int cs_load(void *st, wisp_bytes comb) {
    count_sum *c = st;
    wisp_bytes cur = comb, first;
    if (wisp_next_field(&cur, &first) != 0 || wisp_get_s64(first, &c->count) != 0 || wisp_get_s64(cur, &c->sum) != 0)
        return -1;
    return 0;
}
static int cs_merge_combiners(void *st, wisp_bytes comb) {
    count_sum other;
    if (cs_load(&other, comb) != 0) return -1;
    count_sum *c = st;
    c->count += other.count;
    c->sum += other.sum;
    return 0;
}
static int cs_store(const void *st, wisp_buf *out) {
    const count_sum *c = st;
    size_t m = wisp_put_field_begin(out);
    wisp_put_s64(out, c->count);
    wisp_put_field_end(out, m);
    wisp_put_s64(out, c->sum);
    return 0;
}
static const wisp_aggregator count_and_sum = {sizeof(count_sum), cs_create,          cs_merge_value, cs_load,
                                              cs_merge_combiners, cs_store, NULL};

/* map: x -> (x % 10, unit) for distinct keys... as a plain s64 x % 10. */
static int mod10(wisp_bytes rec, wisp_buf *out) {
    int64_t v;
    if (wisp_get_s64(rec, &v) != 0) return -1;
    wisp_put_s64(out, v % 10);
    return 0;
}

WISP_FUNCTIONS(WISP_FILTER(is_even), WISP_MAP(square), WISP_REDUCER(sum_bytes), WISP_REDUCER_S64(add), WISP_MAP(mod7),
               WISP_MAP(twice), WISP_FLAT_MAP(plus_minus), WISP_MAP_PARTITIONS(partition_size),
               WISP_AGGREGATOR(count_and_sum), WISP_MAP(mod10));

/* Prints a collected batch of (s64, s64) pairs sorted by key: "name=k:v,k:v,...". */
static int print_pairs(const char *name, wisp_rdd rdd) {
    wisp_batch b = {0};
    if (wisp_collect(rdd, &b) != 0) return -1;
    size_t n = wisp_batch_len(&b);
    int64_t(*kv)[2] = calloc(n ? n : 1, sizeof(*kv));
    for (size_t i = 0; i < n; i++) {
        wisp_bytes k, v;
        if (wisp_split_pair(wisp_batch_get(&b, i), &k, &v) != 0) return -1;
        kv[i][0] = s64_of(k);
        kv[i][1] = s64_of(v);
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && kv[j][0] < kv[j - 1][0]; j--) {
            int64_t t0 = kv[j][0], t1 = kv[j][1];
            kv[j][0] = kv[j - 1][0], kv[j][1] = kv[j - 1][1];
            kv[j - 1][0] = t0, kv[j - 1][1] = t1;
        }
    printf("%s=", name);
    for (size_t i = 0; i < n; i++) printf("%s%" PRId64 ":%" PRId64, i ? "," : "", kv[i][0], kv[i][1]);
    printf("\n");
    free(kv);
    wisp_batch_free(&b);
    return 0;
}

int wisp_main(int argc, char **argv) {
    (void)argv;
    if (argc != 0) return wisp_fail("expected no arguments, got %d", argc);
    wisp_batch nums = {0};
    wisp_buf b = {0};
    for (int64_t i = 1; i <= 100; i++) {
        wisp_buf_clear(&b);
        wisp_put_s64(&b, i);
        wisp_batch_push(&nums, b.ptr, b.len);
    }
    wisp_rdd xs = wisp_parallelize(&nums, 4);
    wisp_batch_free(&nums);

    uint64_t n = 0;
    if (wisp_count(wisp_filter(xs, is_even), &n) != 0) return -1;
    printf("even_count=%llu\n", (unsigned long long)n);

    bool found = false;
    wisp_buf_clear(&b);
    if (wisp_reduce(wisp_map(xs, square), sum_bytes, &b, &found) != 0) return -1;
    printf("sum_of_squares=%" PRId64 " found=%d\n", s64_of(wisp_buf_bytes(&b)), found);

    wisp_buf zero = {0}, out = {0};
    wisp_put_s64(&zero, 1000);
    if (wisp_fold(xs, wisp_buf_bytes(&zero), sum_bytes, &out) != 0) return -1;
    printf("fold_1000=%" PRId64 "\n", s64_of(wisp_buf_bytes(&out)));

    wisp_rdd by7 = wisp_key_by(xs, mod7);
    if (print_pairs("twice_by_mod7", wisp_reduce_by_key(wisp_map_values(by7, twice), sum_bytes, 3)) != 0) return -1;
    if (print_pairs("plus_minus_by_mod7", wisp_reduce_by_key_s64(wisp_flat_map_values(by7, plus_minus), add, 2)) != 0)
        return -1;

    wisp_batch cs = {0};
    if (wisp_collect(wisp_combine_by_key(by7, &count_and_sum, 0), &cs) != 0) return -1;
    int64_t total_count = 0, total_sum = 0;
    for (size_t i = 0; i < wisp_batch_len(&cs); i++) {
        wisp_bytes k, v, cur, first;
        if (wisp_split_pair(wisp_batch_get(&cs, i), &k, &v) != 0) return -1;
        cur = v;
        if (wisp_next_field(&cur, &first) != 0) return -1;
        total_count += s64_of(first);
        total_sum += s64_of(cur);
    }
    printf("count_and_sum_keys=%zu count=%" PRId64 " sum=%" PRId64 "\n", wisp_batch_len(&cs), total_count, total_sum);
    wisp_batch_free(&cs);

    wisp_batch sizes = {0};
    if (wisp_collect(wisp_map_partitions(xs, partition_size), &sizes) != 0) return -1;
    printf("partition_sizes=");
    for (size_t i = 0; i < wisp_batch_len(&sizes); i++) printf("%s%" PRId64, i ? "," : "", s64_of(wisp_batch_get(&sizes, i)));
    printf("\n");
    wisp_batch_free(&sizes);

    wisp_batch groups = {0};
    if (wisp_collect(wisp_group_by_key(by7, 0), &groups) != 0) return -1;
    size_t values = 0;
    for (size_t i = 0; i < wisp_batch_len(&groups); i++) {
        wisp_bytes k, list, item;
        if (wisp_split_pair(wisp_batch_get(&groups, i), &k, &list) != 0) return -1;
        while (list.len > 0) {
            if (wisp_next_field(&list, &item) != 0) return -1;
            values++;
        }
    }
    printf("groups=%zu values=%zu\n", wisp_batch_len(&groups), values);
    wisp_batch_free(&groups);

    if (wisp_count(wisp_join(by7, wisp_key_by(wisp_filter(xs, is_even), mod7), WISP_JOIN_INNER, 0), &n) != 0) return -1;
    printf("join_count=%llu\n", (unsigned long long)n);

    if (wisp_count(wisp_distinct(wisp_map(xs, mod10), 0), &n) != 0) return -1;
    printf("distinct_mod10=%llu\n", (unsigned long long)n);

    wisp_rdd both[2] = {xs, xs};
    if (wisp_count(wisp_union(both, 2), &n) != 0) return -1;
    printf("union_count=%llu\n", (unsigned long long)n);

    wisp_batch first = {0};
    if (wisp_take(wisp_sort_by_key(wisp_key_by(xs, mod10), false, 2), 3, &first) != 0) return -1;
    printf("take3_desc_keys=");
    for (size_t i = 0; i < wisp_batch_len(&first); i++) {
        wisp_bytes k, v;
        if (wisp_split_pair(wisp_batch_get(&first, i), &k, &v) != 0) return -1;
        printf("%s%" PRId64, i ? "," : "", s64_of(k));
    }
    printf("\n");
    wisp_batch_free(&first);

    char *conf = wisp_conf("api_job.greeting");
    printf("conf=%s\n", conf != NULL ? conf : "(unset)");
    free(conf);

    /* A function missing from WISP_FUNCTIONS is an error at the call. */
    wisp_rdd bad = wisp_map(xs, (wisp_map_fn)mod7 == (wisp_map_fn)square ? square : (wisp_map_fn)(void *)wisp_panic);
    printf("unregistered=%s\n", bad == WISP_NO_RDD ? wisp_error() : "accepted");
    wisp_clear_error();

    wisp_buf_free(&b);
    wisp_buf_free(&zero);
    wisp_buf_free(&out);
    return 0;
}
