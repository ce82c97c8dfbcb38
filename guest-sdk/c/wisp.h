/* Wisp C SDK: write Wisp jobs (the `job` world of wit/task.wit) in C.
 *
 * A job is a C file that defines plain functions over encoded records,
 * lists them once with WISP_FUNCTIONS(...) so executors can find them by
 * name, and defines `int wisp_main(int argc, char **argv)`, the job's main,
 * which builds RDDs through the driver and runs actions.
 *
 *   static int words(wisp_bytes line, wisp_emitter *out) { ... wisp_emit(out, p, n); ... }
 *   static int64_t add(int64_t a, int64_t b) { return a + b; }
 *   WISP_FUNCTIONS(WISP_FLAT_MAP(words), WISP_REDUCER_S64(add));
 *   int wisp_main(int argc, char **argv) { ... wisp_flat_map(lines, words) ... }
 *
 * Records are byte strings in the encodings of wit/task.wit; the codec half
 * of this header (wisp_put_* appends an encoding to a wisp_buf, wisp_get_*
 * and wisp_split_pair/wisp_next_field decode one) does not depend on the
 * generated bindings, so it also compiles natively (its vector test does).
 *
 * Errors: SDK and user functions return 0 on success and non-zero on
 * failure; wisp_fail(fmt, ...) records the message and returns -1. A failing
 * function fails its task with "c function NAME failed: MESSAGE"; a failing
 * wisp_main fails the job with its message. Driver calls that build RDDs
 * return WISP_NO_RDD on failure and pass WISP_NO_RDD through untouched, so
 * the first error comes out of the next action (as the Rust SDK's Rdd does).
 */
#ifndef WISP_H
#define WISP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- records */

/* A borrowed byte string: a record or part of one. */
typedef struct wisp_bytes {
    const uint8_t *ptr;
    size_t len;
} wisp_bytes;

/* A growable, owned byte buffer (zero-initialise it: `wisp_buf b = {0};`). */
typedef struct wisp_buf {
    uint8_t *ptr;
    size_t len;
    size_t cap;
} wisp_buf;

/* The bytes of a NUL-terminated string. */
wisp_bytes wisp_cstr(const char *s);
/* The bytes of a buffer (valid until it is next written). */
static inline wisp_bytes wisp_buf_bytes(const wisp_buf *b) {
    wisp_bytes r = {b->ptr, b->len};
    return r;
}
/* Makes room for `extra` more bytes (aborts when memory is exhausted). */
void wisp__buf_grow(wisp_buf *b, size_t extra);
static inline void wisp_buf_reserve(wisp_buf *b, size_t extra) {
    if (b->cap - b->len < extra) wisp__buf_grow(b, extra);
}
static inline void wisp_buf_clear(wisp_buf *b) { b->len = 0; }
void wisp_buf_free(wisp_buf *b);

/* Encoders: each appends one encoding to `b`. */
/* string or bytes: the bytes themselves. */
void wisp_put_raw(wisp_buf *b, const void *data, size_t len);
/* string from a NUL-terminated C string. */
void wisp_put_str(wisp_buf *b, const char *s);
/* s64: big-endian with the sign bit flipped (byte order = numeric order). */
void wisp_put_s64(wisp_buf *b, int64_t v);
/* u64: big-endian. */
void wisp_put_u64(wisp_buf *b, uint64_t v);
/* f64: order-preserving big-endian bits. */
void wisp_put_f64(wisp_buf *b, double v);
/* bool: one byte 0 or 1. */
void wisp_put_bool(wisp_buf *b, bool v);
/* option: wisp_put_none, or wisp_put_some followed by the value's encoding. */
void wisp_put_none(wisp_buf *b);
void wisp_put_some(wisp_buf *b);
/* A tuple element other than the last, or a list element: a u32le length
 * prefix. `mark = wisp_put_field_begin(b)`, append the element's encoding,
 * then `wisp_put_field_end(b, mark)` writes its length. */
size_t wisp_put_field_begin(wisp_buf *b);
void wisp_put_field_end(wisp_buf *b, size_t mark);
/* The key of a pair whose key encoding is already at hand: u32le length
 * then the bytes; the value's encoding follows. */
void wisp_put_pair_key(wisp_buf *b, const void *key, size_t len);

/* Decoders: each reads a whole encoding; on malformed input it returns -1
 * and sets the error message (wisp_error()). */
int wisp_get_s64(wisp_bytes in, int64_t *out);
int wisp_get_u64(wisp_bytes in, uint64_t *out);
int wisp_get_f64(wisp_bytes in, double *out);
int wisp_get_bool(wisp_bytes in, bool *out);
/* option: *some tells which; *inner is the value's encoding when some. */
int wisp_get_option(wisp_bytes in, bool *some, wisp_bytes *inner);
/* pair: the key and value encodings. */
int wisp_split_pair(wisp_bytes in, wisp_bytes *key, wisp_bytes *value);
/* Tuples and lists, read front to back: `cur` starts as the whole encoding.
 * wisp_next_field reads one length-prefixed element (a tuple element other
 * than the last, or a list element) and advances `cur`; the last tuple
 * element is what remains in `cur`; a list ends when cur->len is 0. */
int wisp_next_field(wisp_bytes *cur, wisp_bytes *field);

/* Raw encodings without allocation, for hot paths. */
static inline uint64_t wisp_s64_bits(int64_t v) { return (uint64_t)v ^ 0x8000000000000000ull; }
uint64_t wisp_f64_bits(double v);
double wisp_f64_from_bits(uint64_t bits);

/* ----------------------------------------------------------------- errors */

/* Records `fmt` (printf-style) as the current error message; returns -1. */
int wisp_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The current error message ("" when none). */
const char *wisp_error(void);
/* Forgets the current error message. */
void wisp_clear_error(void);
/* Writes the message to stderr and traps (for states a function cannot
 * recover from; the host puts the guest's stderr into the task's error). */
_Noreturn void wisp_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#ifndef WISP_CODEC_ONLY

/* ---------------------------------------------------------------- batches */

/* An owned list of records (as the driver's batch): data + end offsets. */
typedef struct wisp_batch {
    uint8_t *data;
    size_t data_len;
    uint32_t *ends;
    size_t count;
    size_t data_cap;
    size_t ends_cap;
} wisp_batch;

static inline size_t wisp_batch_len(const wisp_batch *b) { return b->count; }
/* Record `i` (0 <= i < count). */
wisp_bytes wisp_batch_get(const wisp_batch *b, size_t i);
/* Appends one record. */
void wisp_batch_push(wisp_batch *b, const void *data, size_t len);
void wisp_batch_free(wisp_batch *b);

/* --------------------------------------------------------------- functions */

/* Where a flat-map or map-partitions function sends its records. */
typedef struct wisp_emitter wisp_emitter;
/* Sends one record (copied). */
int wisp_emit(wisp_emitter *e, const void *data, size_t len);
/* Builds one record in place: append its encoding to the returned buffer
 * (do not clear it), then call wisp_emit_end. */
wisp_buf *wisp_emit_begin(wisp_emitter *e);
int wisp_emit_end(wisp_emitter *e);

/* map, map-values (on the value), key-by (returns the key): append the
 * result's encoding to `out` (empty on entry). */
typedef int (*wisp_map_fn)(wisp_bytes in, wisp_buf *out);
/* filter: set *keep. */
typedef int (*wisp_filter_fn)(wisp_bytes in, bool *keep);
/* flat-map, flat-map-values (on the value): emit zero or more records. */
typedef int (*wisp_flat_map_fn)(wisp_bytes in, wisp_emitter *out);
/* map-partitions: the whole partition in, any records out. */
typedef int (*wisp_map_partitions_fn)(const wisp_batch *in, wisp_emitter *out);
/* reduce, fold, reduce-by-key, fold-by-key on encoded values: append the
 * encoding of f(a, b) to `out` (empty on entry). */
typedef int (*wisp_reducer_fn)(wisp_bytes a, wisp_bytes b, wisp_buf *out);
/* The same on s64 values (no decoding in user code; fail with wisp_fail). */
typedef int64_t (*wisp_reducer_s64_fn)(int64_t a, int64_t b);
/* An order on encoded records (wisp_take_ordered, wisp_top): negative, 0 or
 * positive as a sorts before, with or after b. */
typedef int (*wisp_compare_fn)(wisp_bytes a, wisp_bytes b);

/* combine-by-key with a fixed-size combiner state (`state_size` bytes,
 * zeroed before create/load). `create` makes the state from a key's first
 * value, `merge_value` adds a value, `load` makes it from an encoded
 * combiner, `merge_combiners` merges an encoded combiner in, `store` appends
 * the combiner's encoding, `drop` (optional) frees what the state owns. */
typedef struct wisp_aggregator {
    size_t state_size;
    int (*create)(void *state, wisp_bytes value);
    int (*merge_value)(void *state, wisp_bytes value);
    int (*load)(void *state, wisp_bytes combiner);
    int (*merge_combiners)(void *state, wisp_bytes combiner);
    int (*store)(const void *state, wisp_buf *out);
    void (*drop)(void *state);
} wisp_aggregator;

typedef enum wisp_fn_kind {
    WISP_FN_MAP,
    WISP_FN_FILTER,
    WISP_FN_FLAT_MAP,
    WISP_FN_MAP_PARTITIONS,
    WISP_FN_REDUCER,
    WISP_FN_REDUCER_S64,
    WISP_FN_AGGREGATOR,
    WISP_FN_COMPARATOR,
    WISP_FN_SDK_STREAM, /* the SDK's own partition functions (wisp_more.c) */
} wisp_fn_kind;

/* One registered function: ops name it by `name`. */
typedef struct wisp_function {
    const char *name;
    wisp_fn_kind kind;
    union {
        wisp_map_fn map;
        wisp_filter_fn filter;
        wisp_flat_map_fn flat_map;
        wisp_map_partitions_fn map_partitions;
        wisp_reducer_fn reducer;
        wisp_reducer_s64_fn reducer_s64;
        const wisp_aggregator *aggregator;
        wisp_compare_fn comparator;
        const void *sdk;
    } fn;
} wisp_function;

#define WISP_MAP(f) {#f, WISP_FN_MAP, {.map = (f)}}
#define WISP_FILTER(f) {#f, WISP_FN_FILTER, {.filter = (f)}}
#define WISP_FLAT_MAP(f) {#f, WISP_FN_FLAT_MAP, {.flat_map = (f)}}
#define WISP_MAP_PARTITIONS(f) {#f, WISP_FN_MAP_PARTITIONS, {.map_partitions = (f)}}
#define WISP_REDUCER(f) {#f, WISP_FN_REDUCER, {.reducer = (f)}}
#define WISP_REDUCER_S64(f) {#f, WISP_FN_REDUCER_S64, {.reducer_s64 = (f)}}
/* `a` is a `wisp_aggregator` variable; its name names the op. */
#define WISP_AGGREGATOR(a) {#a, WISP_FN_AGGREGATOR, {.aggregator = &(a)}}
/* Not an op: named by wisp_take_ordered/wisp_top, run inside their tasks. */
#define WISP_COMPARATOR(f) {#f, WISP_FN_COMPARATOR, {.comparator = (f)}}

/* The job's function table: exactly one per component. */
#define WISP_FUNCTIONS(...)                                                         \
    const wisp_function wisp_functions[] = {__VA_ARGS__};                           \
    const size_t wisp_functions_len = sizeof(wisp_functions) / sizeof(wisp_functions[0])

extern const wisp_function wisp_functions[];
extern const size_t wisp_functions_len;

/* The job's main, defined by the job: argv holds the job's arguments
 * (argv[argc] is NULL). Return 0, or non-zero to fail the job with
 * wisp_error() (e.g. `return wisp_fail("...")`). */
int wisp_main(int argc, char **argv);

/* Inside a function: the running op's `args` bytes and the partition index. */
wisp_bytes wisp_op_args(void);
uint32_t wisp_partition(void);

/* ------------------------------------------------------------------ driver */

typedef uint32_t wisp_rdd;
#define WISP_NO_RDD UINT32_MAX

typedef enum wisp_op_kind {
    WISP_OP_MAP = 0,
    WISP_OP_FILTER = 1,
    WISP_OP_FLAT_MAP = 2,
    WISP_OP_MAP_PARTITIONS = 3,
    WISP_OP_MAP_VALUES = 4,
    WISP_OP_FLAT_MAP_VALUES = 5,
    WISP_OP_KEY_BY = 6,
    WISP_OP_COMBINE = 7,
    WISP_OP_MERGE = 8,
    WISP_OP_FOLD = 9,
    WISP_OP_REDUCE = 10,
} wisp_op_kind;

typedef enum wisp_storage_level {
    WISP_MEMORY_ONLY = 0,
    WISP_MEMORY_AND_DISK = 1,
    WISP_DISK_ONLY = 2,
} wisp_storage_level;

typedef enum wisp_join_kind {
    WISP_JOIN_INNER = 0,
    WISP_JOIN_LEFT_OUTER = 1,
    WISP_JOIN_RIGHT_OUTER = 2,
    WISP_JOIN_FULL_OUTER = 3,
} wisp_join_kind;

/* `--conf key=value`: a malloc'd copy of the value, or NULL when unset. */
char *wisp_conf(const char *key);
uint32_t wisp_default_parallelism(void);
/* Loads a functions component; *component is its id for wisp_transform. */
int wisp_load_functions(const char *path, uint32_t *component);
/* The host's built-in library (docs/languages/builtins.md), for wisp_transform and
 * wisp_combine_by_key_named: wisp_transform(lines, WISP_OP_FLAT_MAP, "split_whitespace", NULL, 0,
 * wisp_builtins()). Args are the parameter's text ("2" for csv_field 2). */
#define WISP_BUILTINS "wisp:builtins"
uint32_t wisp_builtins(void);

/* Sources. */
wisp_rdd wisp_text_file(const char *path, uint32_t min_partitions);
wisp_rdd wisp_parallelize(const wisp_batch *records, uint32_t slices);

/* Narrow transformations with this component's registered functions. */
wisp_rdd wisp_map(wisp_rdd parent, wisp_map_fn f);
wisp_rdd wisp_filter(wisp_rdd parent, wisp_filter_fn f);
wisp_rdd wisp_flat_map(wisp_rdd parent, wisp_flat_map_fn f);
wisp_rdd wisp_map_partitions(wisp_rdd parent, wisp_map_partitions_fn f);
wisp_rdd wisp_map_values(wisp_rdd parent, wisp_map_fn f);
wisp_rdd wisp_flat_map_values(wisp_rdd parent, wisp_flat_map_fn f);
wisp_rdd wisp_key_by(wisp_rdd parent, wisp_map_fn f);
/* Any op by name, with args, of any loaded component (0 = this one). */
wisp_rdd wisp_transform(wisp_rdd parent, wisp_op_kind kind, const char *name, const void *args, size_t args_len,
                        uint32_t component);

/* Shuffles; `partitions` 0 means wisp_default_parallelism(). */
wisp_rdd wisp_reduce_by_key(wisp_rdd parent, wisp_reducer_fn f, uint32_t partitions);
wisp_rdd wisp_reduce_by_key_s64(wisp_rdd parent, wisp_reducer_s64_fn f, uint32_t partitions);
wisp_rdd wisp_combine_by_key(wisp_rdd parent, const wisp_aggregator *a, uint32_t partitions);
/* Any aggregator by name, of any loaded component. */
wisp_rdd wisp_combine_by_key_named(wisp_rdd parent, const char *name, const void *args, size_t args_len,
                                   uint32_t component, uint32_t partitions, bool map_side_combine);
wisp_rdd wisp_group_by_key(wisp_rdd parent, uint32_t partitions);
wisp_rdd wisp_join(wisp_rdd left, wisp_rdd right, wisp_join_kind kind, uint32_t partitions);
wisp_rdd wisp_cogroup(const wisp_rdd *parents, size_t count, uint32_t partitions);
wisp_rdd wisp_union(const wisp_rdd *rdds, size_t count);
wisp_rdd wisp_distinct(wisp_rdd parent, uint32_t partitions);
wisp_rdd wisp_sort_by_key(wisp_rdd parent, bool ascending, uint32_t partitions);
wisp_rdd wisp_partition_by(wisp_rdd parent, uint32_t partitions);
wisp_rdd wisp_repartition(wisp_rdd parent, uint32_t partitions);
wisp_rdd wisp_coalesce(wisp_rdd parent, uint32_t partitions);
wisp_rdd wisp_sample(wisp_rdd parent, bool with_replacement, double fraction, uint64_t seed);

int wisp_persist(wisp_rdd rdd, wisp_storage_level level);
int wisp_unpersist(wisp_rdd rdd);
int wisp_num_partitions(wisp_rdd rdd, uint32_t *out);

/* Actions (block until the job ends). */
int wisp_count(wisp_rdd rdd, uint64_t *out);
/* *out is overwritten (free it with wisp_batch_free). */
int wisp_collect(wisp_rdd rdd, wisp_batch *out);
int wisp_take(wisp_rdd rdd, uint32_t n, wisp_batch *out);
int wisp_save_as_text_file(wisp_rdd rdd, const char *path);
/* f over every record; *found is false for an empty RDD. `out` gets the
 * result's encoding appended. */
int wisp_reduce(wisp_rdd rdd, wisp_reducer_fn f, wisp_buf *out, bool *found);
/* f folded from `zero` in each partition, then over the partial results. */
int wisp_fold(wisp_rdd rdd, wisp_bytes zero, wisp_reducer_fn f, wisp_buf *out);

/* ------------------------------------------------------- shared variables */

/* Handles; pass them to functions in an op's args (the *_with calls below)
 * and read them there with wisp_op_arg_u32. */
typedef uint32_t wisp_broadcast;
typedef uint32_t wisp_accumulator;

/* Narrow transformations whose function reads `args` (wisp_op_args()). */
wisp_rdd wisp_map_with(wisp_rdd parent, wisp_map_fn f, const void *args, size_t len);
wisp_rdd wisp_filter_with(wisp_rdd parent, wisp_filter_fn f, const void *args, size_t len);
wisp_rdd wisp_flat_map_with(wisp_rdd parent, wisp_flat_map_fn f, const void *args, size_t len);
wisp_rdd wisp_map_partitions_with(wisp_rdd parent, wisp_map_partitions_fn f, const void *args, size_t len);
wisp_rdd wisp_map_values_with(wisp_rdd parent, wisp_map_fn f, const void *args, size_t len);
wisp_rdd wisp_flat_map_values_with(wisp_rdd parent, wisp_flat_map_fn f, const void *args, size_t len);
/* Inside a function: the `index`-th little-endian u32 of the op's args (a
 * handle packed by the driver, e.g. `uint32_t args[2] = {bc, acc}`). */
int wisp_op_arg_u32(size_t index, uint32_t *out);

/* Broadcast variables (driver): `value`'s bytes (any encoding) travel to each
 * executor once and are read by handle; refused past wisp.broadcast.maxBytes. */
int wisp_broadcast_create(const void *value, size_t len, wisp_broadcast *out);
/* Inside a function (or on the driver): the value's bytes, fetched on first
 * use in this guest instance and kept (valid until wisp_broadcast_unpersist).
 * Fails when the broadcast was destroyed before the job started. */
int wisp_broadcast_value(wisp_broadcast bc, wisp_bytes *out);
/* Frees this instance's copy of the value; the next wisp_broadcast_value
 * fetches it again. The host keeps the value (unlike destroy). */
int wisp_broadcast_unpersist(wisp_broadcast bc);
/* Forgets the broadcast (driver): jobs started later cannot read it. */
int wisp_broadcast_destroy(wisp_broadcast bc);

/* Accumulators: created on the driver, added to inside functions, read on
 * the driver after an action. An update counts once per partition of each
 * RDD a job computes, retries and speculation included
 * (docs/shared-variables.md, "What once means"). */
typedef enum wisp_accumulator_kind {
    WISP_ACC_LONG_SUM = 0,   /* s64 sum (wrapping), 0 before any add */
    WISP_ACC_DOUBLE_SUM = 1, /* f64 sum, 0.0 before any add */
    WISP_ACC_LONG_MIN = 2,   /* none before any add */
    WISP_ACC_LONG_MAX = 3,
    WISP_ACC_DOUBLE_MIN = 4,
    WISP_ACC_DOUBLE_MAX = 5,
    WISP_ACC_COLLECTION = 6, /* every value added (bytes) */
} wisp_accumulator_kind;

int wisp_accumulator_create(wisp_accumulator_kind kind, wisp_accumulator *out);
/* Inside a function: s64 to the long kinds, f64 to the double kinds, any
 * bytes to a collection. From the job's main it fails. */
int wisp_accumulator_add_s64(wisp_accumulator acc, int64_t v);
int wisp_accumulator_add_f64(wisp_accumulator acc, double v);
int wisp_accumulator_add(wisp_accumulator acc, const void *bytes, size_t len);
/* On the driver: the value merged from the jobs that ended so far. For the
 * sums *present is always true; for min/max false until something was added.
 * Reading a double kind as s64 (or the reverse) fails. */
int wisp_accumulator_value_s64(wisp_accumulator acc, int64_t *out, bool *present);
int wisp_accumulator_value_f64(wisp_accumulator acc, double *out, bool *present);
/* A collection's elements, one record each (*out overwritten). */
int wisp_accumulator_value_collection(wisp_accumulator acc, wisp_batch *out);

/* ------------------------------------------------------------ checkpoints */

/* Where wisp_checkpoint writes (each application writes a new directory below). */
int wisp_set_checkpoint_dir(const char *path);
/* Writes the RDD's partitions into the checkpoint directory now (a job) and
 * returns an RDD reading them back, whose lineage starts there. Without a
 * checkpoint directory: WISP_NO_RDD and the error. */
wisp_rdd wisp_checkpoint(wisp_rdd rdd);
/* Persists the RDD (memory and disk) and computes it now; returns it. */
wisp_rdd wisp_local_checkpoint(wisp_rdd rdd);

/* ----------------------------------------------------- more sources & API */

/* Lines as raw bytes (no U+FFFD replacement), split like wisp_text_file. */
wisp_rdd wisp_binary_lines(const char *path, uint32_t min_partitions);
/* One pair (path: string, content: string) per file. */
wisp_rdd wisp_whole_text_files(const char *path, uint32_t min_partitions);

/* Each partition as one record: the list encoding of its records. */
wisp_rdd wisp_glom(wisp_rdd rdd);
/* The n smallest records by `cmp` (a WISP_COMPARATOR; NULL: byte order of
 * the encodings, which is numeric order for s64/u64/f64 and code-point order
 * for strings), ascending; wisp_top: the n largest, descending. Each
 * partition keeps its n first, the driver merges them. *out overwritten. */
int wisp_take_ordered(wisp_rdd rdd, uint32_t n, wisp_compare_fn cmp, wisp_batch *out);
int wisp_top(wisp_rdd rdd, uint32_t n, wisp_compare_fn cmp, wisp_batch *out);
/* Pairs (record, u64 count), one per distinct record, in no particular order. */
int wisp_count_by_value(wisp_rdd rdd, wisp_batch *out);
/* Pairs (record, u64 index): partition order, then order in the partition
 * (runs a job counting the partitions first, as Spark). */
wisp_rdd wisp_zip_with_index(wisp_rdd rdd);
/* Pairs (record, u64 id): the k-th record of partition i of n gets k*n + i. */
wisp_rdd wisp_zip_with_unique_id(wisp_rdd rdd);
/* Records of `a` (duplicates kept) whose bytes do not occur in `b`. */
wisp_rdd wisp_subtract(wisp_rdd a, wisp_rdd b, uint32_t partitions);
/* Pairs of `a` whose key does not occur among the keys of pair RDD `b`. */
wisp_rdd wisp_subtract_by_key(wisp_rdd a, wisp_rdd b, uint32_t partitions);
/* The distinct records that occur in both. */
wisp_rdd wisp_intersection(wisp_rdd a, wisp_rdd b, uint32_t partitions);
/* (For the three above `partitions` 0 picks the default partitioner, as cogroup.) */
/* Every pair (x, y), x of `a`, y of `b`, as the tuple encoding; `b` is
 * collected and broadcast (it should fit in memory); `a`'s partitions. */
wisp_rdd wisp_cartesian(wisp_rdd a, wisp_rdd b);
/* The values (encodings) of the pairs whose key bytes equal `key`. */
int wisp_lookup(wisp_rdd rdd, const void *key, size_t key_len, wisp_batch *out);

/* Statistics of f64 records (Spark's StatCounter). */
typedef struct wisp_stats {
    uint64_t count;
    double mean;
    double m2;  /* sum of squared differences from the mean */
    double min; /* +inf for none */
    double max; /* -inf for none */
} wisp_stats;
int wisp_stats_of(wisp_rdd rdd, wisp_stats *out);
/* 0.0 for none: each partition summed from 0.0, then the partial sums. */
int wisp_sum(wisp_rdd rdd, double *out);
/* NaN for none. */
int wisp_mean(wisp_rdd rdd, double *out);
double wisp_stats_variance(const wisp_stats *s);        /* population; NaN for none */
double wisp_stats_sample_variance(const wisp_stats *s); /* NaN for fewer than two */

/* Spark's treeAggregate: each partition folds with seq_op from zero; while
 * there are more partial results than scale + ceil(count / scale), with
 * scale = max(ceil(count^(1/depth)), 2), they are keyed by partition index %
 * (count / scale) and combined with comb_op by a reduce-by-key into
 * count / scale partitions; the driver combines the rest with comb_op from
 * zero. Both are WISP_REDUCERs; depth >= 1 (0 means 2). */
int wisp_tree_aggregate(wisp_rdd rdd, wisp_bytes zero, wisp_reducer_fn seq_op, wisp_reducer_fn comb_op,
                        uint32_t depth, wisp_buf *out);
/* The same with f for both and no zero; *found false for an empty RDD (as wisp_reduce). */
int wisp_tree_reduce(wisp_rdd rdd, wisp_reducer_fn f, uint32_t depth, wisp_buf *out, bool *found);

/* ------------------------------------------------------ built-in functions */

/* The host's built-in library (docs/languages/builtins.md) as transformations:
 * ops the host runs natively, at Rust speed, without entering this guest
 * (consecutive built-ins run together in the host). A wisp_builtin names a
 * function and its parameter; the wisp_*_builtin calls apply it as an op of
 * their kind (as wisp_map & co. apply a registered C function):
 *
 *   wisp_rdd words = wisp_flat_map_builtin(lines, wisp_b_split_whitespace());
 *   wisp_rdd counts = wisp_reduce_by_key_builtin(wisp_map_builtin(words, wisp_b_pair_with_one()), WISP_B_SUM, 0);
 *   wisp_save_as_text_file(wisp_map_builtin(counts, wisp_b_format_pair(WISP_TEXT_STR, WISP_TEXT_S64, "\t")), out);
 *
 * A function the op kind does not take (wisp_map_builtin with split_whitespace)
 * or a bad parameter (an empty delimiter) fails when the transformation is
 * made: WISP_NO_RDD and the host's message. A record a built-in cannot take
 * (parse_int of "abc") fails the task with one line naming the built-in, the
 * record and the partition. Built in wisp_builtins.c. */
typedef struct wisp_builtin {
    const char *name; /* the built-in's name in the library */
    char head[24];    /* the parameter's start: a field index, format_pair's "KEY:VALUE:" */
    const char *tail; /* the parameter's rest, borrowed until applied: a delimiter, a field name, a separator */
} wisp_builtin;

/* Flat-map, flat-map-values: string -> the maximal runs of characters other
 * than ASCII whitespace; string -> every piece between `delimiter`s (empty
 * pieces included). */
wisp_builtin wisp_b_split_whitespace(void);
wisp_builtin wisp_b_split(const char *delimiter);
/* Map, map-values, key-by: string -> string (Unicode case mapping; trim
 * strips leading and trailing Unicode whitespace). */
wisp_builtin wisp_b_lower(void);
wisp_builtin wisp_b_upper(void);
wisp_builtin wisp_b_trim(void);
/* string -> s64 (surrounding whitespace allowed); string -> f64 (Rust's
 * f64::from_str: "1e3", "inf", "NaN" accepted). */
wisp_builtin wisp_b_parse_int(void);
wisp_builtin wisp_b_parse_float(void);
/* A CSV line (RFC 4180 quoting) or tab-separated line -> field `index`
 * (0-based); a JSON object line -> its top-level field `name` (a string's
 * text, else the value's JSON text). */
wisp_builtin wisp_b_csv_field(uint32_t index);
wisp_builtin wisp_b_tsv_field(uint32_t index);
wisp_builtin wisp_b_json_field(const char *name);
/* Map: any record r -> the pair (r, s64 1). */
wisp_builtin wisp_b_pair_with_one(void);
/* The record types format_pair renders as text. */
typedef enum wisp_text_type {
    WISP_TEXT_STR = 0,
    WISP_TEXT_S64 = 1,
    WISP_TEXT_U64 = 2,
    WISP_TEXT_F64 = 3, /* in Rust's shortest form: "1", "0.5" */
} wisp_text_type;
/* Map, map-values, key-by: a pair (key, value) of the given types -> the
 * string key, sep, value (a word count's "word\tcount" line). */
wisp_builtin wisp_b_format_pair(wisp_text_type key, wisp_text_type value, const char *sep);

/* Applies `f` as an op of the call's kind. */
wisp_rdd wisp_map_builtin(wisp_rdd parent, wisp_builtin f);
wisp_rdd wisp_map_values_builtin(wisp_rdd parent, wisp_builtin f);
wisp_rdd wisp_key_by_builtin(wisp_rdd parent, wisp_builtin f);
wisp_rdd wisp_flat_map_builtin(wisp_rdd parent, wisp_builtin f);
wisp_rdd wisp_flat_map_values_builtin(wisp_rdd parent, wisp_builtin f);

/* The built-in aggregators. */
typedef enum wisp_builtin_aggregator {
    WISP_B_SUM = 0,       /* s64 values -> their sum (an overflow fails the task) */
    WISP_B_SUM_FLOAT = 1, /* f64 values -> their sum */
    WISP_B_COUNT = 2,     /* any values -> how many (s64) */
    WISP_B_MIN = 3,       /* any values -> the least by encoded bytes (numeric order */
    WISP_B_MAX = 4,       /*   for numbers, code point order for strings); the greatest */
    WISP_B_MEAN = 5,      /* f64 values -> their mean (f64) */
} wisp_builtin_aggregator;
/* The library's name of an aggregator ("sum", "sum_float"...), for
 * wisp_combine_by_key_named (where "mean" gives the combiner (f64 sum, s64 count)). */
const char *wisp_builtin_aggregator_name(wisp_builtin_aggregator a);
/* The values of each key aggregated by `a` into `partitions` (0: the
 * default), combining on the map side first; combiners come out in ascending
 * key-byte order, as every SDK's. */
wisp_rdd wisp_reduce_by_key_builtin(wisp_rdd parent, wisp_builtin_aggregator a, uint32_t partitions);
/* The records reduced by WISP_B_SUM, WISP_B_SUM_FLOAT, WISP_B_MIN or
 * WISP_B_MAX: each partition in the host, the partitions' results here. `out`
 * gets the result's encoding appended; *found is false for an empty RDD. */
int wisp_reduce_builtin(wisp_rdd rdd, wisp_builtin_aggregator a, wisp_buf *out, bool *found);

#endif /* WISP_CODEC_ONLY */

#ifdef __cplusplus
}
#endif

#endif /* WISP_H */
