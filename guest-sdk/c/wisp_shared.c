/* Wisp C SDK: shared variables (broadcast variables, accumulators), the
 * narrow transformations with args that carry their handles, checkpoints and
 * the 0.2.0 sources, over the `shared` and `driver` imports of wit/task.wit. */
#include <stdlib.h>
#include <string.h>

#include "wisp_internal.h"

/* ------------------------------------------------------------ ops with args */

static wisp_rdd transform_with(wisp_rdd parent, wisp_op_kind kind, wisp_fn_kind fkind, const void *f,
                               const void *args, size_t len, const char *api) {
    if (parent == WISP_NO_RDD) return WISP_NO_RDD;
    const char *name = wisp__name_of(fkind, f, api);
    if (name == NULL) return WISP_NO_RDD;
    return wisp_transform(parent, kind, name, args, len, 0);
}

wisp_rdd wisp_map_with(wisp_rdd parent, wisp_map_fn f, const void *args, size_t len) {
    return transform_with(parent, WISP_OP_MAP, WISP_FN_MAP, (const void *)f, args, len, "wisp_map_with");
}
wisp_rdd wisp_filter_with(wisp_rdd parent, wisp_filter_fn f, const void *args, size_t len) {
    return transform_with(parent, WISP_OP_FILTER, WISP_FN_FILTER, (const void *)f, args, len, "wisp_filter_with");
}
wisp_rdd wisp_flat_map_with(wisp_rdd parent, wisp_flat_map_fn f, const void *args, size_t len) {
    return transform_with(parent, WISP_OP_FLAT_MAP, WISP_FN_FLAT_MAP, (const void *)f, args, len,
                          "wisp_flat_map_with");
}
wisp_rdd wisp_map_partitions_with(wisp_rdd parent, wisp_map_partitions_fn f, const void *args, size_t len) {
    return transform_with(parent, WISP_OP_MAP_PARTITIONS, WISP_FN_MAP_PARTITIONS, (const void *)f, args, len,
                          "wisp_map_partitions_with");
}
wisp_rdd wisp_map_values_with(wisp_rdd parent, wisp_map_fn f, const void *args, size_t len) {
    return transform_with(parent, WISP_OP_MAP_VALUES, WISP_FN_MAP, (const void *)f, args, len,
                          "wisp_map_values_with");
}
wisp_rdd wisp_flat_map_values_with(wisp_rdd parent, wisp_flat_map_fn f, const void *args, size_t len) {
    return transform_with(parent, WISP_OP_FLAT_MAP_VALUES, WISP_FN_FLAT_MAP, (const void *)f, args, len,
                          "wisp_flat_map_values_with");
}

int wisp_op_arg_u32(size_t index, uint32_t *out) {
    wisp_bytes a = wisp_op_args();
    if (index >= a.len / 4)
        return wisp_fail("op args: no u32 at index %zu (the args have %zu bytes)", index, a.len);
    const uint8_t *p = a.ptr + 4 * index;
    *out = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return 0;
}

/* ---------------------------------------------------------------- broadcast */

/* This instance's copies of broadcast values, by handle (a handful per job). */
typedef struct cached_value {
    wisp_broadcast id;
    job_list_u8_t bytes;
} cached_value;

static cached_value *cache;
static size_t cache_len, cache_cap;

int wisp_broadcast_create(const void *value, size_t len, wisp_broadcast *out) {
    job_list_u8_t v = {(uint8_t *)value, len};
    job_string_t err;
    if (!wisp_task_driver_broadcast(&v, out, &err)) return wisp__host_error(&err);
    return 0;
}

int wisp_broadcast_value(wisp_broadcast bc, wisp_bytes *out) {
    for (size_t i = 0; i < cache_len; i++) {
        if (cache[i].id == bc) {
            out->ptr = cache[i].bytes.ptr;
            out->len = cache[i].bytes.len;
            return 0;
        }
    }
    job_list_u8_t bytes;
    job_string_t err;
    if (!wisp_task_shared_broadcast_value(bc, &bytes, &err)) return wisp__host_error(&err);
    if (cache_len == cache_cap) {
        size_t cap = cache_cap < 4 ? 4 : cache_cap * 2;
        cached_value *p = realloc(cache, cap * sizeof(*p));
        if (p == NULL) abort();
        cache = p;
        cache_cap = cap;
    }
    cache[cache_len].id = bc;
    cache[cache_len].bytes = bytes;
    cache_len++;
    out->ptr = bytes.ptr;
    out->len = bytes.len;
    return 0;
}

int wisp_broadcast_unpersist(wisp_broadcast bc) {
    for (size_t i = 0; i < cache_len; i++) {
        if (cache[i].id == bc) {
            job_list_u8_free(&cache[i].bytes);
            cache[i] = cache[--cache_len];
            break;
        }
    }
    return 0;
}

int wisp_broadcast_destroy(wisp_broadcast bc) {
    wisp_broadcast_unpersist(bc);
    job_string_t err;
    return wisp_task_driver_destroy_broadcast(bc, &err) ? 0 : wisp__host_error(&err);
}

/* ------------------------------------------------------------- accumulators */

/* The kind of each accumulator this instance (the driver's) made, plus one, by handle:
 * the encodings of the sums do not tell a long from a double. */
static uint8_t *kinds;
static size_t kinds_len;

int wisp_accumulator_create(wisp_accumulator_kind kind, wisp_accumulator *out) {
    if ((unsigned)kind > WISP_ACC_COLLECTION) return wisp_fail("wisp_accumulator_create: unknown kind %d", (int)kind);
    job_string_t err;
    if (!wisp_task_driver_accumulator((wisp_task_driver_accumulator_kind_t)kind, out, &err))
        return wisp__host_error(&err);
    if (*out >= kinds_len) {
        size_t len = (size_t)*out + 16;
        uint8_t *p = realloc(kinds, len);
        if (p == NULL) abort();
        memset(p + kinds_len, 0, len - kinds_len);
        kinds = p;
        kinds_len = len;
    }
    kinds[*out] = (uint8_t)(kind + 1);
    return 0;
}

/* Whether `acc` is known to be of another kind than `a` or `b`. */
static bool other_kind(wisp_accumulator acc, wisp_accumulator_kind a, wisp_accumulator_kind b, wisp_accumulator_kind c) {
    if (acc >= kinds_len || kinds[acc] == 0) return false;
    wisp_accumulator_kind k = (wisp_accumulator_kind)(kinds[acc] - 1);
    return k != a && k != b && k != c;
}

int wisp_accumulator_add(wisp_accumulator acc, const void *bytes, size_t len) {
    job_list_u8_t v = {(uint8_t *)bytes, len};
    job_string_t err;
    return wisp_task_shared_accumulator_add(acc, &v, &err) ? 0 : wisp__host_error(&err);
}

int wisp_accumulator_add_s64(wisp_accumulator acc, int64_t v) {
    uint8_t b[8];
    uint64_t bits = wisp_s64_bits(v);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(bits >> (56 - 8 * i));
    return wisp_accumulator_add(acc, b, 8);
}

int wisp_accumulator_add_f64(wisp_accumulator acc, double v) {
    uint8_t b[8];
    uint64_t bits = wisp_f64_bits(v);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(bits >> (56 - 8 * i));
    return wisp_accumulator_add(acc, b, 8);
}

/* The value's encoding: `s64`/`f64` for the sums, `option<...>` for min/max, `list<bytes>`. */
static int value_bytes(wisp_accumulator acc, job_list_u8_t *out) {
    job_string_t err;
    return wisp_task_driver_accumulator_value(acc, out, &err) ? 0 : wisp__host_error(&err);
}

/* A sum (8 bytes) or an option of one (1 or 9 bytes): the number's encoding, or none. */
static int number_of(wisp_bytes v, wisp_bytes *num, bool *present) {
    if (v.len == 8) {
        *num = v;
        *present = true;
        return 0;
    }
    return wisp_get_option(v, present, num);
}

int wisp_accumulator_value_s64(wisp_accumulator acc, int64_t *out, bool *present) {
    if (other_kind(acc, WISP_ACC_LONG_SUM, WISP_ACC_LONG_MIN, WISP_ACC_LONG_MAX))
        return wisp_fail("accumulator %u is not a long accumulator", (unsigned)acc);
    job_list_u8_t v;
    if (value_bytes(acc, &v) != 0) return -1;
    wisp_bytes all = {v.ptr, v.len}, num;
    int rc = number_of(all, &num, present);
    if (rc == 0 && *present) rc = wisp_get_s64(num, out);
    job_list_u8_free(&v);
    return rc != 0 ? wisp_fail("accumulator %u is not a long accumulator", (unsigned)acc) : 0;
}

int wisp_accumulator_value_f64(wisp_accumulator acc, double *out, bool *present) {
    if (other_kind(acc, WISP_ACC_DOUBLE_SUM, WISP_ACC_DOUBLE_MIN, WISP_ACC_DOUBLE_MAX))
        return wisp_fail("accumulator %u is not a double accumulator", (unsigned)acc);
    job_list_u8_t v;
    if (value_bytes(acc, &v) != 0) return -1;
    wisp_bytes all = {v.ptr, v.len}, num;
    int rc = number_of(all, &num, present);
    if (rc == 0 && *present) rc = wisp_get_f64(num, out);
    job_list_u8_free(&v);
    return rc != 0 ? wisp_fail("accumulator %u is not a double accumulator", (unsigned)acc) : 0;
}

int wisp_accumulator_value_collection(wisp_accumulator acc, wisp_batch *out) {
    if (other_kind(acc, WISP_ACC_COLLECTION, WISP_ACC_COLLECTION, WISP_ACC_COLLECTION))
        return wisp_fail("accumulator %u is not a collection accumulator", (unsigned)acc);
    job_list_u8_t v;
    if (value_bytes(acc, &v) != 0) return -1;
    wisp_batch b = {0};
    wisp_bytes cur = {v.ptr, v.len}, item;
    int rc = 0;
    while (cur.len > 0 && rc == 0) {
        rc = wisp_next_field(&cur, &item);
        if (rc == 0) wisp_batch_push(&b, item.ptr, item.len);
    }
    job_list_u8_free(&v);
    if (rc != 0) {
        wisp_batch_free(&b);
        return wisp_fail("accumulator %u is not a collection accumulator", (unsigned)acc);
    }
    *out = b;
    return 0;
}

/* -------------------------------------------------------------- checkpoints */

int wisp_set_checkpoint_dir(const char *path) {
    job_string_t p = wisp__borrow_str(path), err;
    return wisp_task_driver_set_checkpoint_dir(&p, &err) ? 0 : wisp__host_error(&err);
}

wisp_rdd wisp_checkpoint(wisp_rdd rdd) {
    if (rdd == WISP_NO_RDD) return WISP_NO_RDD;
    job_string_t err;
    uint32_t id = 0;
    bool ok = wisp_task_driver_checkpoint(rdd, &id, &err);
    return wisp__rdd_result(ok, id, &err);
}

wisp_rdd wisp_local_checkpoint(wisp_rdd rdd) {
    if (rdd == WISP_NO_RDD) return WISP_NO_RDD;
    job_string_t err;
    uint32_t id = 0;
    bool ok = wisp_task_driver_local_checkpoint(rdd, &id, &err);
    return wisp__rdd_result(ok, id, &err);
}

/* ------------------------------------------------------------------ sources */

wisp_rdd wisp_binary_lines(const char *path, uint32_t min_partitions) {
    job_string_t p = wisp__borrow_str(path), err;
    uint32_t id = 0;
    bool ok = wisp_task_driver_binary_lines(&p, min_partitions ? min_partitions : 1, &id, &err);
    return wisp__rdd_result(ok, id, &err);
}

wisp_rdd wisp_whole_text_files(const char *path, uint32_t min_partitions) {
    job_string_t p = wisp__borrow_str(path), err;
    uint32_t id = 0;
    bool ok = wisp_task_driver_whole_text_files(&p, min_partitions ? min_partitions : 1, &id, &err);
    return wisp__rdd_result(ok, id, &err);
}
