/* Wisp C SDK: the host's built-in function library (`wisp:builtins`,
 * docs/languages/builtins.md) as transformations, aggregations and a reduce
 * action (wisp.h, "built-in functions"). The functions run in the host; this
 * file only names them and their parameters, and combines the partitions'
 * results of wisp_reduce_builtin on the driver. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wisp_internal.h"

/* ------------------------------------------------------------ functions */

static wisp_builtin plain(const char *name) {
    wisp_builtin b = {name, {0}, NULL};
    return b;
}

static wisp_builtin with_index(const char *name, uint32_t index) {
    wisp_builtin b = plain(name);
    snprintf(b.head, sizeof b.head, "%u", (unsigned)index);
    return b;
}

static wisp_builtin with_text(const char *name, const char *text) {
    wisp_builtin b = plain(name);
    b.tail = text;
    return b;
}

wisp_builtin wisp_b_split_whitespace(void) { return plain("split_whitespace"); }
wisp_builtin wisp_b_split(const char *delimiter) { return with_text("split", delimiter); }
wisp_builtin wisp_b_lower(void) { return plain("lower"); }
wisp_builtin wisp_b_upper(void) { return plain("upper"); }
wisp_builtin wisp_b_trim(void) { return plain("trim"); }
wisp_builtin wisp_b_parse_int(void) { return plain("parse_int"); }
wisp_builtin wisp_b_parse_float(void) { return plain("parse_float"); }
wisp_builtin wisp_b_csv_field(uint32_t index) { return with_index("csv_field", index); }
wisp_builtin wisp_b_tsv_field(uint32_t index) { return with_index("tsv_field", index); }
wisp_builtin wisp_b_json_field(const char *name) { return with_text("json_field", name); }
wisp_builtin wisp_b_pair_with_one(void) { return plain("pair_with_one"); }

static const char *text_type_name(wisp_text_type t) {
    static const char *names[] = {"str", "s64", "u64", "f64"};
    /* Another value gets a name the host refuses, so the transformation fails naming it. */
    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown-type";
}

wisp_builtin wisp_b_format_pair(wisp_text_type key, wisp_text_type value, const char *sep) {
    wisp_builtin b = with_text("format_pair", sep);
    snprintf(b.head, sizeof b.head, "%s:%s:", text_type_name(key), text_type_name(value));
    return b;
}

static wisp_rdd apply(wisp_rdd parent, wisp_op_kind kind, wisp_builtin f) {
    if (parent == WISP_NO_RDD) return WISP_NO_RDD;
    wisp_buf args = {0};
    wisp_put_str(&args, f.head);
    if (f.tail != NULL) wisp_put_str(&args, f.tail);
    wisp_rdd r = wisp_transform(parent, kind, f.name, args.ptr, args.len, wisp_builtins());
    wisp_buf_free(&args);
    return r;
}

wisp_rdd wisp_map_builtin(wisp_rdd parent, wisp_builtin f) { return apply(parent, WISP_OP_MAP, f); }
wisp_rdd wisp_map_values_builtin(wisp_rdd parent, wisp_builtin f) { return apply(parent, WISP_OP_MAP_VALUES, f); }
wisp_rdd wisp_key_by_builtin(wisp_rdd parent, wisp_builtin f) { return apply(parent, WISP_OP_KEY_BY, f); }
wisp_rdd wisp_flat_map_builtin(wisp_rdd parent, wisp_builtin f) { return apply(parent, WISP_OP_FLAT_MAP, f); }
wisp_rdd wisp_flat_map_values_builtin(wisp_rdd parent, wisp_builtin f) {
    return apply(parent, WISP_OP_FLAT_MAP_VALUES, f);
}

/* ---------------------------------------------------------- aggregators */

const char *wisp_builtin_aggregator_name(wisp_builtin_aggregator a) {
    static const char *names[] = {"sum", "sum_float", "count", "min", "max", "mean"};
    return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "unknown-aggregator";
}

wisp_rdd wisp_reduce_by_key_builtin(wisp_rdd parent, wisp_builtin_aggregator a, uint32_t partitions) {
    wisp_rdd r = wisp_combine_by_key_named(parent, wisp_builtin_aggregator_name(a), NULL, 0, wisp_builtins(),
                                           partitions, true);
    /* mean's combiner is (f64 sum, s64 count): the library's mean_value makes it the mean. */
    if (a != WISP_B_MEAN || r == WISP_NO_RDD) return r;
    return wisp_transform(r, WISP_OP_MAP_VALUES, "mean_value", NULL, 0, wisp_builtins());
}

/* `acc` (a partial result, the encoding of the aggregator's type) merged with `v`. */
static int merge_partial(wisp_builtin_aggregator a, wisp_buf *acc, wisp_bytes v) {
    wisp_bytes cur = wisp_buf_bytes(acc);
    switch (a) {
    case WISP_B_SUM: {
        int64_t x, y, s;
        if (wisp_get_s64(cur, &x) != 0 || wisp_get_s64(v, &y) != 0) return -1;
        if (__builtin_add_overflow(x, y, &s)) return wisp_fail("built-in sum: the s64 sum overflows");
        wisp_buf_clear(acc);
        wisp_put_s64(acc, s);
        return 0;
    }
    case WISP_B_SUM_FLOAT: {
        double x, y;
        if (wisp_get_f64(cur, &x) != 0 || wisp_get_f64(v, &y) != 0) return -1;
        wisp_buf_clear(acc);
        wisp_put_f64(acc, x + y);
        return 0;
    }
    case WISP_B_MIN:
    case WISP_B_MAX: {
        /* Byte order: the common prefix, then the shorter first. */
        size_t n = cur.len < v.len ? cur.len : v.len;
        int c = n > 0 ? memcmp(v.ptr, cur.ptr, n) : 0;
        if (c == 0) c = v.len < cur.len ? -1 : v.len > cur.len ? 1 : 0;
        if ((a == WISP_B_MIN && c < 0) || (a == WISP_B_MAX && c > 0)) {
            wisp_buf_clear(acc);
            wisp_put_raw(acc, v.ptr, v.len);
        }
        return 0;
    }
    default:
        return wisp_fail("wisp_reduce_builtin: %s is not a reducer (sum, sum_float, min, max)",
                         wisp_builtin_aggregator_name(a));
    }
}

int wisp_reduce_builtin(wisp_rdd rdd, wisp_builtin_aggregator a, wisp_buf *out, bool *found) {
    *found = false;
    if (rdd == WISP_NO_RDD) return wisp__no_rdd();
    if (a != WISP_B_SUM && a != WISP_B_SUM_FLOAT && a != WISP_B_MIN && a != WISP_B_MAX)
        return wisp_fail("wisp_reduce_builtin: %s is not a reducer (sum, sum_float, min, max)",
                         wisp_builtin_aggregator_name(a));
    wisp_task_driver_op_t op = {WISP_TASK_TYPES_OP_KIND_REDUCE, wisp__borrow_str(wisp_builtin_aggregator_name(a)),
                                {NULL, 0}};
    wisp_task_driver_list_op_t ops = {&op, 1};
    wisp_task_driver_list_batch_t parts;
    job_string_t err;
    if (!wisp_task_driver_run_partitions(rdd, &ops, wisp_builtins(), &parts, &err)) return wisp__host_error(&err);
    wisp_buf acc = {0};
    int rc = 0;
    for (size_t i = 0; i < parts.len; i++) {
        wisp_batch b = wisp__batch_from_wit(&parts.ptr[i]);
        for (size_t j = 0; j < b.count && rc == 0; j++) {
            wisp_bytes v = wisp_batch_get(&b, j);
            if (!*found) {
                wisp_put_raw(&acc, v.ptr, v.len);
                *found = true;
            } else {
                rc = merge_partial(a, &acc, v);
            }
        }
    }
    wisp_task_driver_list_batch_free(&parts);
    if (rc == 0 && *found) wisp_put_raw(out, acc.ptr, acc.len);
    wisp_buf_free(&acc);
    return rc;
}
