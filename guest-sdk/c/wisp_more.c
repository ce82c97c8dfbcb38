/* Wisp C SDK: the rest of Spark's RDD API over encoded records (ordering,
 * counting, indexing, set operations, glom, lookup, statistics, tree
 * aggregation), built on the driver calls of wisp.c and on the SDK's own
 * functions below, which tasks find by name ("wisp.*") like the job's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wisp_internal.h"

static void put_u32le(wisp_buf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    wisp_put_raw(b, x, 4);
}

static uint32_t get_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool bytes_eq(wisp_bytes a, wisp_bytes b) { return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0); }

/* Byte order of encodings: memcmp, a prefix first. */
static int compare_bytes(wisp_bytes a, wisp_bytes b) {
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n > 0 ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c != 0) return c;
    return a.len < b.len ? -1 : (a.len > b.len ? 1 : 0);
}

/* ------------------------------------------------------------ sorting records */

/* qsort has no context argument: the batch and order being sorted (one sort at a time). */
static const wisp_batch *sort_batch;
static wisp_compare_fn sort_cmp;
static bool sort_desc;

static int compare_indices(const void *x, const void *y) {
    wisp_bytes a = wisp_batch_get(sort_batch, *(const uint32_t *)x);
    wisp_bytes b = wisp_batch_get(sort_batch, *(const uint32_t *)y);
    int c = sort_cmp != NULL ? sort_cmp(a, b) : compare_bytes(a, b);
    return sort_desc ? -c : c;
}

/* Replaces *b by its `n` first records in the order (cmp, desc). */
static void keep_first(wisp_batch *b, uint32_t n, wisp_compare_fn cmp, bool desc) {
    uint32_t *idx = malloc((b->count ? b->count : 1) * sizeof(uint32_t));
    if (idx == NULL) abort();
    for (size_t i = 0; i < b->count; i++) idx[i] = (uint32_t)i;
    sort_batch = b;
    sort_cmp = cmp;
    sort_desc = desc;
    qsort(idx, b->count, sizeof(uint32_t), compare_indices);
    wisp_batch kept = {0};
    for (size_t i = 0; i < b->count && i < n; i++) {
        wisp_bytes r = wisp_batch_get(b, idx[i]);
        wisp_batch_push(&kept, r.ptr, r.len);
    }
    free(idx);
    wisp_batch_free(b);
    *b = kept;
}

/* ------------------------------------------------------ the SDK's functions */

/* wisp.count: the partition's record count as one u64. */
static int count_record(void *st, wisp_bytes rec, wisp_emitter *out) {
    (*(uint64_t *)st)++;
    return 0;
}
static int count_end(void *st, wisp_emitter *out) {
    wisp_put_u64(wisp_emit_begin(out), *(uint64_t *)st);
    return wisp_emit_end(out);
}
static const wisp__stream count_stream = {sizeof(uint64_t), NULL, count_record, count_end, NULL};

/* wisp.zip_index: args are the u64 start index of every partition. */
static int zip_index_begin(void *st) {
    wisp_bytes a = wisp_op_args();
    uint32_t p = wisp_partition();
    if ((size_t)p >= a.len / 8) return wisp_fail("no start index for partition %u", (unsigned)p);
    wisp_bytes start = {a.ptr + 8 * (size_t)p, 8};
    return wisp_get_u64(start, st);
}
static int zip_record(void *st, wisp_bytes rec, wisp_emitter *out) {
    uint64_t *next = st;
    wisp_buf *b = wisp_emit_begin(out);
    wisp_put_pair_key(b, rec.ptr, rec.len);
    wisp_put_u64(b, (*next)++);
    return wisp_emit_end(out);
}
static int no_end(void *st, wisp_emitter *out) { return 0; }
static const wisp__stream zip_index_stream = {sizeof(uint64_t), zip_index_begin, zip_record, no_end, NULL};

/* wisp.zip_unique: args are the u64 number of partitions n; the k-th record of partition i gets k*n + i. */
typedef struct unique_state {
    uint64_t next, step;
} unique_state;
static int unique_begin(void *st) {
    unique_state *u = st;
    u->next = wisp_partition();
    return wisp_get_u64(wisp_op_args(), &u->step);
}
static int unique_record(void *st, wisp_bytes rec, wisp_emitter *out) {
    unique_state *u = st;
    wisp_buf *b = wisp_emit_begin(out);
    wisp_put_pair_key(b, rec.ptr, rec.len);
    wisp_put_u64(b, u->next);
    u->next += u->step;
    return wisp_emit_end(out);
}
static const wisp__stream unique_stream = {sizeof(unique_state), unique_begin, unique_record, no_end, NULL};

/* wisp.smallest: args are u32le n, a byte 1 for descending, the comparator's
 * name (none: byte order). Keeps at most 2n + 1024 records between trims. */
typedef struct smallest_state {
    wisp_batch kept;
    uint32_t n;
    bool desc;
    wisp_compare_fn cmp;
} smallest_state;
static int smallest_begin(void *st) {
    smallest_state *s = st;
    wisp_bytes a = wisp_op_args();
    if (a.len < 5) return wisp_fail("take_ordered: malformed args");
    s->n = get_u32le(a.ptr);
    s->desc = a.ptr[4] != 0;
    if (a.len > 5) {
        const wisp_function *f = wisp__function_named(a.ptr + 5, a.len - 5);
        if (f == NULL || f->kind != WISP_FN_COMPARATOR)
            return wisp_fail("no comparator %.*s in this component", (int)(a.len - 5), (const char *)a.ptr + 5);
        s->cmp = f->fn.comparator;
    }
    return 0;
}
static int smallest_record(void *st, wisp_bytes rec, wisp_emitter *out) {
    smallest_state *s = st;
    wisp_batch_push(&s->kept, rec.ptr, rec.len);
    if (s->kept.count >= 2 * (size_t)s->n + 1024) keep_first(&s->kept, s->n, s->cmp, s->desc);
    return 0;
}
static int smallest_end(void *st, wisp_emitter *out) {
    smallest_state *s = st;
    keep_first(&s->kept, s->n, s->cmp, s->desc);
    for (size_t i = 0; i < s->kept.count; i++) {
        wisp_bytes r = wisp_batch_get(&s->kept, i);
        if (wisp_emit(out, r.ptr, r.len) != 0) return -1;
    }
    return 0;
}
static void smallest_drop(void *st) { wisp_batch_free(&((smallest_state *)st)->kept); }
static const wisp__stream smallest_stream = {sizeof(smallest_state), smallest_begin, smallest_record, smallest_end,
                                             smallest_drop};

/* wisp.glom: the partition as one list record. */
static int glom_record(void *st, wisp_bytes rec, wisp_emitter *out) {
    wisp_buf *b = st;
    size_t m = wisp_put_field_begin(b);
    wisp_put_raw(b, rec.ptr, rec.len);
    wisp_put_field_end(b, m);
    return 0;
}
static int glom_end(void *st, wisp_emitter *out) {
    wisp_buf *b = st;
    return wisp_emit(out, b->ptr, b->len);
}
static void glom_drop(void *st) { wisp_buf_free(st); }
static const wisp__stream glom_stream = {sizeof(wisp_buf), NULL, glom_record, glom_end, glom_drop};

/* wisp.fold: args are a byte (1: fold from the zero that ends the args, 0:
 * reduce), u32le name length, the reducer's name. One record out (none when
 * reducing an empty partition). */
typedef struct fold_state {
    const wisp_function *f;
    wisp_buf acc, tmp;
    bool has;
} fold_state;
static int fold_begin(void *st) {
    fold_state *s = st;
    wisp_bytes a = wisp_op_args();
    if (a.len < 5 || a.len - 5 < get_u32le(a.ptr + 1)) return wisp_fail("tree_aggregate: malformed args");
    uint32_t n = get_u32le(a.ptr + 1);
    s->f = wisp__function_named(a.ptr + 5, n);
    if (s->f == NULL || s->f->kind != WISP_FN_REDUCER)
        return wisp_fail("no reducer %.*s in this component", (int)n, (const char *)a.ptr + 5);
    if (a.ptr[0] == 1) {
        wisp_put_raw(&s->acc, a.ptr + 5 + n, a.len - 5 - n);
        s->has = true;
    }
    return 0;
}
static int fold_record(void *st, wisp_bytes rec, wisp_emitter *out) {
    fold_state *s = st;
    if (!s->has) {
        wisp_put_raw(&s->acc, rec.ptr, rec.len);
        s->has = true;
        return 0;
    }
    wisp_buf_clear(&s->tmp);
    if (s->f->fn.reducer(wisp_buf_bytes(&s->acc), rec, &s->tmp) != 0) {
        const char *m = wisp_error();
        return wisp_fail("%s: %s", s->f->name, m[0] != '\0' ? m : "failed");
    }
    wisp_buf t = s->acc;
    s->acc = s->tmp;
    s->tmp = t;
    return 0;
}
static int fold_end(void *st, wisp_emitter *out) {
    fold_state *s = st;
    return s->has ? wisp_emit(out, s->acc.ptr, s->acc.len) : 0;
}
static void fold_drop(void *st) {
    fold_state *s = st;
    wisp_buf_free(&s->acc);
    wisp_buf_free(&s->tmp);
}
static const wisp__stream fold_stream = {sizeof(fold_state), fold_begin, fold_record, fold_end, fold_drop};

/* wisp.stats: the partition's wisp_stats (its bytes; only this SDK reads them). */
static void stats_add(wisp_stats *s, double x) {
    double delta = x - s->mean;
    s->count++;
    s->mean += delta / (double)s->count;
    s->m2 += delta * (x - s->mean);
    if (x > s->max) s->max = x;
    if (x < s->min) s->min = x;
}
static void stats_merge(wisp_stats *s, const wisp_stats *o) {
    if (o->count == 0) return;
    if (s->count == 0) {
        *s = *o;
        return;
    }
    uint64_t count = s->count + o->count;
    double delta = o->mean - s->mean;
    s->mean += delta * (double)o->count / (double)count;
    s->m2 += o->m2 + delta * delta * (double)s->count * (double)o->count / (double)count;
    s->count = count;
    if (o->max > s->max) s->max = o->max;
    if (o->min < s->min) s->min = o->min;
}
static void stats_init(wisp_stats *s) {
    memset(s, 0, sizeof(*s));
    s->min = INFINITY;
    s->max = -INFINITY;
}
static int stats_begin(void *st) {
    stats_init(st);
    return 0;
}
static int stats_record(void *st, wisp_bytes rec, wisp_emitter *out) {
    double x;
    if (wisp_get_f64(rec, &x) != 0) return -1;
    stats_add(st, x);
    return 0;
}
static int stats_end(void *st, wisp_emitter *out) { return wisp_emit(out, st, sizeof(wisp_stats)); }
static const wisp__stream stats_stream = {sizeof(wisp_stats), stats_begin, stats_record, stats_end, NULL};

/* wisp.sum: the partition's f64 records summed from 0.0. */
static int sum_record(void *st, wisp_bytes rec, wisp_emitter *out) {
    double x;
    if (wisp_get_f64(rec, &x) != 0) return -1;
    *(double *)st += x;
    return 0;
}
static int sum_end(void *st, wisp_emitter *out) {
    wisp_put_f64(wisp_emit_begin(out), *(double *)st);
    return wisp_emit_end(out);
}
static const wisp__stream sum_stream = {sizeof(double), NULL, sum_record, sum_end, NULL};

/* wisp.key_by_partition (map): (u64 partition % args' u32le, record). */
static int key_by_partition(wisp_bytes rec, wisp_buf *out) {
    uint32_t m;
    if (wisp_op_arg_u32(0, &m) != 0 || m == 0) return wisp_fail("key_by_partition: bad modulus");
    wisp_buf key = {0};
    wisp_put_u64(&key, wisp_partition() % m);
    wisp_put_pair_key(out, key.ptr, key.len);
    wisp_buf_free(&key);
    wisp_put_raw(out, rec.ptr, rec.len);
    return 0;
}

/* wisp.value (map): a pair's value. */
static int pair_value(wisp_bytes rec, wisp_buf *out) {
    wisp_bytes k, v;
    if (wisp_split_pair(rec, &k, &v) != 0) return -1;
    wisp_put_raw(out, v.ptr, v.len);
    return 0;
}

/* wisp.pair_one (map): (record, u64 1). */
static int pair_one(wisp_bytes rec, wisp_buf *out) {
    wisp_put_pair_key(out, rec.ptr, rec.len);
    wisp_put_u64(out, 1);
    return 0;
}

/* wisp.add_u64 (reducer). */
static int add_u64(wisp_bytes a, wisp_bytes b, wisp_buf *out) {
    uint64_t x, y;
    if (wisp_get_u64(a, &x) != 0 || wisp_get_u64(b, &y) != 0) return -1;
    wisp_put_u64(out, x + y);
    return 0;
}

/* wisp.unit_pair (map): (record, ()). */
static int unit_pair(wisp_bytes rec, wisp_buf *out) {
    wisp_put_pair_key(out, rec.ptr, rec.len);
    return 0;
}

/* A cogroup record (k, (list<v>, list<w>)). */
static int cogrouped(wisp_bytes rec, wisp_bytes *k, wisp_bytes *vs, wisp_bytes *ws) {
    wisp_bytes both;
    if (wisp_split_pair(rec, k, &both) != 0 || wisp_next_field(&both, vs) != 0) return -1;
    *ws = both;
    return 0;
}

/* wisp.subtract_by_key (flat-map): (k, v) for each v when k has no w. */
static int subtract_by_key(wisp_bytes rec, wisp_emitter *out) {
    wisp_bytes k, vs, ws, v;
    if (cogrouped(rec, &k, &vs, &ws) != 0) return -1;
    if (ws.len > 0) return 0;
    while (vs.len > 0) {
        if (wisp_next_field(&vs, &v) != 0) return -1;
        wisp_buf *b = wisp_emit_begin(out);
        wisp_put_pair_key(b, k.ptr, k.len);
        wisp_put_raw(b, v.ptr, v.len);
        if (wisp_emit_end(out) != 0) return -1;
    }
    return 0;
}

/* wisp.subtract_keys (flat-map): k once per v when k has no w. */
static int subtract_keys(wisp_bytes rec, wisp_emitter *out) {
    wisp_bytes k, vs, ws, v;
    if (cogrouped(rec, &k, &vs, &ws) != 0) return -1;
    if (ws.len > 0) return 0;
    while (vs.len > 0) {
        if (wisp_next_field(&vs, &v) != 0 || wisp_emit(out, k.ptr, k.len) != 0) return -1;
    }
    return 0;
}

/* wisp.both_sides (flat-map): k when it has values on both sides. */
static int both_sides(wisp_bytes rec, wisp_emitter *out) {
    wisp_bytes k, vs, ws;
    if (cogrouped(rec, &k, &vs, &ws) != 0) return -1;
    return vs.len > 0 && ws.len > 0 ? wisp_emit(out, k.ptr, k.len) : 0;
}

/* wisp.cartesian (flat-map): (x, y) for each y of the list broadcast under the args' u32le handle. */
static int cartesian(wisp_bytes x, wisp_emitter *out) {
    uint32_t bc;
    wisp_bytes ys, y;
    if (wisp_op_arg_u32(0, &bc) != 0 || wisp_broadcast_value(bc, &ys) != 0) return -1;
    while (ys.len > 0) {
        if (wisp_next_field(&ys, &y) != 0) return -1;
        wisp_buf *b = wisp_emit_begin(out);
        wisp_put_pair_key(b, x.ptr, x.len);
        wisp_put_raw(b, y.ptr, y.len);
        if (wisp_emit_end(out) != 0) return -1;
    }
    return 0;
}

/* wisp.lookup (flat-map): v of each pair whose key bytes equal the args. */
static int lookup(wisp_bytes rec, wisp_emitter *out) {
    wisp_bytes k, v;
    if (wisp_split_pair(rec, &k, &v) != 0) return -1;
    return bytes_eq(k, wisp_op_args()) ? wisp_emit(out, v.ptr, v.len) : 0;
}

#define SDK_STREAM(name, s) {name, WISP_FN_SDK_STREAM, {.sdk = &(s)}}
const wisp_function wisp__sdk_functions[] = {
    SDK_STREAM("wisp.count", count_stream),
    SDK_STREAM("wisp.zip_index", zip_index_stream),
    SDK_STREAM("wisp.zip_unique", unique_stream),
    SDK_STREAM("wisp.smallest", smallest_stream),
    SDK_STREAM("wisp.glom", glom_stream),
    SDK_STREAM("wisp.fold", fold_stream),
    SDK_STREAM("wisp.stats", stats_stream),
    SDK_STREAM("wisp.sum", sum_stream),
    {"wisp.key_by_partition", WISP_FN_MAP, {.map = key_by_partition}},
    {"wisp.value", WISP_FN_MAP, {.map = pair_value}},
    {"wisp.pair_one", WISP_FN_MAP, {.map = pair_one}},
    {"wisp.add_u64", WISP_FN_REDUCER, {.reducer = add_u64}},
    {"wisp.unit_pair", WISP_FN_MAP, {.map = unit_pair}},
    {"wisp.subtract_by_key", WISP_FN_FLAT_MAP, {.flat_map = subtract_by_key}},
    {"wisp.subtract_keys", WISP_FN_FLAT_MAP, {.flat_map = subtract_keys}},
    {"wisp.both_sides", WISP_FN_FLAT_MAP, {.flat_map = both_sides}},
    {"wisp.cartesian", WISP_FN_FLAT_MAP, {.flat_map = cartesian}},
    {"wisp.lookup", WISP_FN_FLAT_MAP, {.flat_map = lookup}},
};
const size_t wisp__sdk_functions_len = sizeof(wisp__sdk_functions) / sizeof(wisp__sdk_functions[0]);

/* ------------------------------------------------------------ driver side */

static wisp_rdd sdk_op(wisp_rdd parent, wisp_op_kind kind, const char *name, const void *args, size_t len) {
    return wisp_transform(parent, kind, name, args, len, 0);
}

/* Runs one SDK stream over every partition; each partition's output batch (free with the list). */
static int run_stream(wisp_rdd rdd, const char *name, wisp_bytes args, wisp_task_driver_list_batch_t *parts) {
    wisp_task_driver_op_t op = {WISP_TASK_TYPES_OP_KIND_MAP_PARTITIONS, wisp__borrow_str(name),
                                {(uint8_t *)args.ptr, args.len}};
    return wisp__run_partitions(rdd, &op, 1, parts);
}

/* Every record of every batch of `parts`, appended to *out; frees `parts`. */
static void gather(wisp_task_driver_list_batch_t *parts, wisp_batch *out) {
    for (size_t i = 0; i < parts->len; i++) {
        wisp_batch b = wisp__batch_from_wit(&parts->ptr[i]);
        for (size_t j = 0; j < b.count; j++) {
            wisp_bytes r = wisp_batch_get(&b, j);
            wisp_batch_push(out, r.ptr, r.len);
        }
    }
    wisp_task_driver_list_batch_free(parts);
}

wisp_rdd wisp_glom(wisp_rdd rdd) { return sdk_op(rdd, WISP_OP_MAP_PARTITIONS, "wisp.glom", NULL, 0); }

static int ordered(wisp_rdd rdd, uint32_t n, wisp_compare_fn cmp, bool desc, wisp_batch *out, const char *api) {
    if (rdd == WISP_NO_RDD) return wisp__no_rdd();
    wisp_buf args = {0};
    put_u32le(&args, n);
    uint8_t d = desc;
    wisp_put_raw(&args, &d, 1);
    if (cmp != NULL) {
        const char *name = wisp__name_of(WISP_FN_COMPARATOR, (const void *)cmp, api);
        if (name == NULL) {
            wisp_buf_free(&args);
            return -1;
        }
        wisp_put_str(&args, name);
    }
    wisp_task_driver_list_batch_t parts;
    int rc = run_stream(rdd, "wisp.smallest", wisp_buf_bytes(&args), &parts);
    wisp_buf_free(&args);
    if (rc != 0) return -1;
    wisp_batch all = {0};
    gather(&parts, &all);
    keep_first(&all, n, cmp, desc);
    *out = all;
    return 0;
}

int wisp_take_ordered(wisp_rdd rdd, uint32_t n, wisp_compare_fn cmp, wisp_batch *out) {
    return ordered(rdd, n, cmp, false, out, "wisp_take_ordered");
}

int wisp_top(wisp_rdd rdd, uint32_t n, wisp_compare_fn cmp, wisp_batch *out) {
    return ordered(rdd, n, cmp, true, out, "wisp_top");
}

int wisp_count_by_value(wisp_rdd rdd, wisp_batch *out) {
    wisp_rdd ones = sdk_op(rdd, WISP_OP_MAP, "wisp.pair_one", NULL, 0);
    return wisp_collect(wisp_combine_by_key_named(ones, "wisp.add_u64", NULL, 0, 0, 0, true), out);
}

wisp_rdd wisp_zip_with_index(wisp_rdd rdd) {
    if (rdd == WISP_NO_RDD) return WISP_NO_RDD;
    wisp_task_driver_list_batch_t parts;
    wisp_bytes none = {NULL, 0};
    if (run_stream(rdd, "wisp.count", none, &parts) != 0) return WISP_NO_RDD;
    wisp_buf starts = {0};
    uint64_t next = 0;
    int rc = 0;
    for (size_t i = 0; i < parts.len && rc == 0; i++) {
        wisp_batch b = wisp__batch_from_wit(&parts.ptr[i]);
        uint64_t n = 0;
        rc = b.count == 1 ? wisp_get_u64(wisp_batch_get(&b, 0), &n) : wisp_fail("zip_with_index: bad count");
        wisp_put_u64(&starts, next);
        next += n;
    }
    wisp_task_driver_list_batch_free(&parts);
    wisp_rdd r = rc == 0 ? sdk_op(rdd, WISP_OP_MAP_PARTITIONS, "wisp.zip_index", starts.ptr, starts.len) : WISP_NO_RDD;
    wisp_buf_free(&starts);
    return r;
}

wisp_rdd wisp_zip_with_unique_id(wisp_rdd rdd) {
    uint32_t n;
    if (rdd == WISP_NO_RDD || wisp_num_partitions(rdd, &n) != 0) return WISP_NO_RDD;
    wisp_buf args = {0};
    wisp_put_u64(&args, n);
    wisp_rdd r = sdk_op(rdd, WISP_OP_MAP_PARTITIONS, "wisp.zip_unique", args.ptr, args.len);
    wisp_buf_free(&args);
    return r;
}

/* Cogroup of two RDDs; `partitions` 0 is the host's default partitioner (as the Rust SDK's cogroup). */
static wisp_rdd cogroup2(wisp_rdd a, wisp_rdd b, uint32_t partitions) {
    if (a == WISP_NO_RDD || b == WISP_NO_RDD) return WISP_NO_RDD;
    wisp_task_driver_rdd_id_t ids[2] = {a, b};
    wisp_task_driver_list_rdd_id_t list = {ids, 2};
    job_string_t err;
    uint32_t id = 0;
    bool ok = wisp_task_driver_cogroup(&list, partitions, &id, &err);
    return wisp__rdd_result(ok, id, &err);
}

wisp_rdd wisp_subtract_by_key(wisp_rdd a, wisp_rdd b, uint32_t partitions) {
    return sdk_op(cogroup2(a, b, partitions), WISP_OP_FLAT_MAP, "wisp.subtract_by_key", NULL, 0);
}

wisp_rdd wisp_subtract(wisp_rdd a, wisp_rdd b, uint32_t partitions) {
    wisp_rdd ka = sdk_op(a, WISP_OP_MAP, "wisp.unit_pair", NULL, 0);
    wisp_rdd kb = sdk_op(b, WISP_OP_MAP, "wisp.unit_pair", NULL, 0);
    return sdk_op(cogroup2(ka, kb, partitions), WISP_OP_FLAT_MAP, "wisp.subtract_keys", NULL, 0);
}

wisp_rdd wisp_intersection(wisp_rdd a, wisp_rdd b, uint32_t partitions) {
    wisp_rdd ka = sdk_op(a, WISP_OP_MAP, "wisp.unit_pair", NULL, 0);
    wisp_rdd kb = sdk_op(b, WISP_OP_MAP, "wisp.unit_pair", NULL, 0);
    return sdk_op(cogroup2(ka, kb, partitions), WISP_OP_FLAT_MAP, "wisp.both_sides", NULL, 0);
}

wisp_rdd wisp_cartesian(wisp_rdd a, wisp_rdd b) {
    if (a == WISP_NO_RDD || b == WISP_NO_RDD) return WISP_NO_RDD;
    wisp_batch right = {0};
    if (wisp_collect(b, &right) != 0) return WISP_NO_RDD;
    wisp_buf list = {0};
    for (size_t i = 0; i < right.count; i++) {
        wisp_bytes r = wisp_batch_get(&right, i);
        size_t m = wisp_put_field_begin(&list);
        wisp_put_raw(&list, r.ptr, r.len);
        wisp_put_field_end(&list, m);
    }
    wisp_batch_free(&right);
    wisp_broadcast bc;
    int rc = wisp_broadcast_create(list.ptr, list.len, &bc);
    wisp_buf_free(&list);
    if (rc != 0) return WISP_NO_RDD;
    uint8_t args[4] = {(uint8_t)bc, (uint8_t)(bc >> 8), (uint8_t)(bc >> 16), (uint8_t)(bc >> 24)};
    return sdk_op(a, WISP_OP_FLAT_MAP, "wisp.cartesian", args, 4);
}

int wisp_lookup(wisp_rdd rdd, const void *key, size_t key_len, wisp_batch *out) {
    return wisp_collect(sdk_op(rdd, WISP_OP_FLAT_MAP, "wisp.lookup", key, key_len), out);
}

/* ------------------------------------------------------------------ numbers */

int wisp_stats_of(wisp_rdd rdd, wisp_stats *out) {
    wisp_task_driver_list_batch_t parts;
    wisp_bytes none = {NULL, 0};
    if (run_stream(rdd, "wisp.stats", none, &parts) != 0) return -1;
    wisp_stats total;
    stats_init(&total);
    int rc = 0;
    for (size_t i = 0; i < parts.len && rc == 0; i++) {
        wisp_batch b = wisp__batch_from_wit(&parts.ptr[i]);
        wisp_bytes r = b.count == 1 ? wisp_batch_get(&b, 0) : none;
        if (r.len != sizeof(wisp_stats)) {
            rc = wisp_fail("stats: a partition returned %zu records", b.count);
            break;
        }
        wisp_stats s;
        memcpy(&s, r.ptr, sizeof s);
        stats_merge(&total, &s);
    }
    wisp_task_driver_list_batch_free(&parts);
    if (rc == 0) *out = total;
    return rc;
}

int wisp_sum(wisp_rdd rdd, double *out) {
    wisp_task_driver_list_batch_t parts;
    wisp_bytes none = {NULL, 0};
    if (run_stream(rdd, "wisp.sum", none, &parts) != 0) return -1;
    double total = 0.0;
    int rc = 0;
    for (size_t i = 0; i < parts.len && rc == 0; i++) {
        wisp_batch b = wisp__batch_from_wit(&parts.ptr[i]);
        double x = 0.0;
        rc = b.count == 1 ? wisp_get_f64(wisp_batch_get(&b, 0), &x) : wisp_fail("sum: bad partial");
        total += x;
    }
    wisp_task_driver_list_batch_free(&parts);
    if (rc == 0) *out = total;
    return rc;
}

int wisp_mean(wisp_rdd rdd, double *out) {
    wisp_stats s;
    if (wisp_stats_of(rdd, &s) != 0) return -1;
    *out = s.count == 0 ? NAN : s.mean;
    return 0;
}

double wisp_stats_variance(const wisp_stats *s) { return s->count == 0 ? NAN : s->m2 / (double)s->count; }

double wisp_stats_sample_variance(const wisp_stats *s) {
    return s->count <= 1 ? NAN : s->m2 / (double)(s->count - 1);
}

/* ------------------------------------------------------------ tree aggregate */

/* The tree levels of Spark's treeAggregate over `partials` (one record per
 * partition at most), then every remaining partial, in *rest. */
static int tree_levels(wisp_rdd partials, const char *comb, uint32_t depth, wisp_batch *rest) {
    uint32_t count;
    if (wisp_num_partitions(partials, &count) != 0) return -1;
    if (depth == 0) depth = 2;
    uint32_t scale = (uint32_t)ceil(pow((double)count, 1.0 / (double)depth));
    if (scale < 2) scale = 2;
    while (count > scale + (count + scale - 1) / scale) {
        count /= scale;
        uint8_t m[4] = {(uint8_t)count, (uint8_t)(count >> 8), (uint8_t)(count >> 16), (uint8_t)(count >> 24)};
        wisp_rdd keyed = sdk_op(partials, WISP_OP_MAP, "wisp.key_by_partition", m, 4);
        wisp_rdd combined = wisp_combine_by_key_named(keyed, comb, NULL, 0, 0, count, true);
        partials = sdk_op(combined, WISP_OP_MAP, "wisp.value", NULL, 0);
    }
    return wisp_collect(partials, rest);
}

/* Partials of seq_op (from `zero` when `zero` is given) per partition, through the tree; the remaining ones. */
static int tree(wisp_rdd rdd, const wisp_bytes *zero, wisp_reducer_fn seq_op, wisp_reducer_fn comb_op, uint32_t depth,
                wisp_batch *rest, const char *api) {
    if (rdd == WISP_NO_RDD) return wisp__no_rdd();
    const char *seq = wisp__name_of(WISP_FN_REDUCER, (const void *)seq_op, api);
    const char *comb = seq != NULL ? wisp__name_of(WISP_FN_REDUCER, (const void *)comb_op, api) : NULL;
    if (comb == NULL) return -1;
    wisp_buf args = {0};
    uint8_t mode = zero != NULL;
    wisp_put_raw(&args, &mode, 1);
    put_u32le(&args, (uint32_t)strlen(seq));
    wisp_put_str(&args, seq);
    if (zero != NULL) wisp_put_raw(&args, zero->ptr, zero->len);
    wisp_rdd partials = sdk_op(rdd, WISP_OP_MAP_PARTITIONS, "wisp.fold", args.ptr, args.len);
    wisp_buf_free(&args);
    if (partials == WISP_NO_RDD) return -1;
    return tree_levels(partials, comb, depth, rest);
}

/* acc = comb_op(acc, each record of rest), acc starting as given. */
static int combine_rest(wisp_reducer_fn comb_op, const wisp_batch *rest, size_t from, wisp_buf *acc) {
    wisp_buf tmp = {0};
    int rc = 0;
    for (size_t i = from; i < rest->count && rc == 0; i++) {
        wisp_buf_clear(&tmp);
        rc = comb_op(wisp_buf_bytes(acc), wisp_batch_get(rest, i), &tmp);
        if (rc == 0) {
            wisp_buf_clear(acc);
            wisp_put_raw(acc, tmp.ptr, tmp.len);
        }
    }
    wisp_buf_free(&tmp);
    return rc != 0 ? -1 : 0;
}

int wisp_tree_aggregate(wisp_rdd rdd, wisp_bytes zero, wisp_reducer_fn seq_op, wisp_reducer_fn comb_op,
                        uint32_t depth, wisp_buf *out) {
    wisp_batch rest = {0};
    if (tree(rdd, &zero, seq_op, comb_op, depth, &rest, "wisp_tree_aggregate") != 0) return -1;
    wisp_buf acc = {0};
    wisp_put_raw(&acc, zero.ptr, zero.len);
    int rc = combine_rest(comb_op, &rest, 0, &acc);
    if (rc == 0) wisp_put_raw(out, acc.ptr, acc.len);
    wisp_buf_free(&acc);
    wisp_batch_free(&rest);
    return rc;
}

int wisp_tree_reduce(wisp_rdd rdd, wisp_reducer_fn f, uint32_t depth, wisp_buf *out, bool *found) {
    wisp_batch rest = {0};
    *found = false;
    if (tree(rdd, NULL, f, f, depth, &rest, "wisp_tree_reduce") != 0) return -1;
    int rc = 0;
    if (rest.count > 0) {
        wisp_buf acc = {0};
        wisp_bytes first = wisp_batch_get(&rest, 0);
        wisp_put_raw(&acc, first.ptr, first.len);
        rc = combine_rest(f, &rest, 1, &acc);
        if (rc == 0) {
            wisp_put_raw(out, acc.ptr, acc.len);
            *found = true;
        }
        wisp_buf_free(&acc);
    }
    wisp_batch_free(&rest);
    return rc;
}
