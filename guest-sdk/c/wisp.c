/* Wisp C SDK: the exported `pipeline.task` resource (a chain of ops run over
 * one partition), the exported `run`, and the driver calls of wisp.h over the
 * bindings wit-bindgen generates from wit/ (job.h, job.c). */
#include "wisp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "wisp_internal.h"

/* Incremented by every wisp_fail (wisp_codec.c): how a function that cannot
 * return a status (an s64 reducer) reports failure. */
extern unsigned wisp__fail_count;

/* ================================================================ batches */

wisp_bytes wisp_batch_get(const wisp_batch *b, size_t i) {
    size_t start = i == 0 ? 0 : b->ends[i - 1];
    wisp_bytes r = {b->data + start, b->ends[i] - start};
    return r;
}

void wisp_batch_push(wisp_batch *b, const void *data, size_t len) {
    if (b->data_cap - b->data_len < len) {
        size_t cap = b->data_cap < 256 ? 256 : b->data_cap;
        while (cap - b->data_len < len) cap *= 2;
        uint8_t *p = realloc(b->data, cap);
        if (p == NULL) abort();
        b->data = p;
        b->data_cap = cap;
    }
    if (b->count == b->ends_cap) {
        size_t cap = b->ends_cap < 16 ? 16 : b->ends_cap * 2;
        uint32_t *p = realloc(b->ends, cap * sizeof(uint32_t));
        if (p == NULL) abort();
        b->ends = p;
        b->ends_cap = cap;
    }
    if (len > 0) memcpy(b->data + b->data_len, data, len);
    b->data_len += len;
    b->ends[b->count++] = (uint32_t)b->data_len;
}

void wisp_batch_free(wisp_batch *b) {
    free(b->data);
    free(b->ends);
    memset(b, 0, sizeof(*b));
}

/* A batch received from the host (its buffers come from cabi_realloc). An empty
 * list's pointer is not an allocation (cabi_realloc of 0 bytes returns the
 * alignment): NULL instead, so that wisp_batch_free can free it. */
static wisp_batch batch_from_wit(wisp_task_types_batch_t *in) {
    wisp_batch b = {in->data.len ? in->data.ptr : NULL, in->data.len, in->ends.len ? in->ends.ptr : NULL,
                    in->ends.len, in->data.len, in->ends.len};
    return b;
}

/* ================================================================= tasks */

typedef struct stage stage;
typedef struct chain chain;

struct wisp_emitter {
    stage *owner;
    bool values;    /* flat-map-values: prefix each record with `key` */
    wisp_bytes key;
    wisp_buf buf;
};

/* The hash table of combine/merge: open addressing with the entries in
 * the slots (one cache line per lookup) and a control byte per slot (0 for
 * empty, else 0x80 and 7 bits of the hash) probed first, so a probe touches
 * an entry only on a likely match. Keys of up to 16 bytes live in the entry,
 * zero-padded (compared as two words); longer ones in `keys`. */
typedef struct table {
    uint8_t *ctrl;
    uint8_t *entries; /* one `stride`-byte entry per slot: entry_head, then the state */
    size_t mask, count, stride, state_size;
    wisp_buf keys;
} table;

#define INLINE_KEY 16

typedef struct entry_head {
    uint32_t key_len;
    uint32_t key_off; /* into `keys` when key_len > INLINE_KEY */
    uint64_t key[INLINE_KEY / 8];
} entry_head;

struct stage {
    wisp_op_kind kind;
    const wisp_function *fn;
    const uint8_t *name; /* not NUL-terminated */
    size_t name_len;
    wisp_bytes args;
    stage *next; /* NULL: the chain's output */
    chain *owner;
    wisp_buf out, out2;
    wisp_emitter em;
    table tbl;
    wisp_buf acc;
    int64_t acc_s64;
    bool has_acc;
    wisp_batch records;
    void *stream; /* state of an SDK stream function */
};

struct chain {
    exports_wisp_task_pipeline_list_op_t ops;
    stage *stages;
    size_t len;
    uint32_t partition;
    bool failed; /* the error message is final: do not wrap it again */
    wisp_buf data;
    uint32_t *ends;
    size_t ends_len, ends_cap;
};

struct exports_wisp_task_pipeline_task_t {
    chain c;
};

static stage *current;

/* job.c references the symbol of wit-bindgen's component-type object; the
 * build embeds the component type after linking instead (wisp-c-tool), so
 * this stands in for that object. */
void __component_type_object_force_link_job(void);
void __component_type_object_force_link_job(void) {}

wisp_bytes wisp_op_args(void) {
    wisp_bytes none = {NULL, 0};
    return current != NULL ? current->args : none;
}

uint32_t wisp_partition(void) { return current != NULL ? current->owner->partition : 0; }

static const char *kind_name(wisp_op_kind k) {
    static const char *names[] = {"map",      "filter",  "flat-map", "map-partitions", "map-values", "flat-map-values",
                                  "key-by",   "combine", "merge",    "fold",           "reduce"};
    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "unknown";
}

/* A user function of `s` returned a failure: make the task's message. */
static int fn_failed(stage *s, int rc) {
    chain *c = s->owner;
    if (c->failed) return -1;
    c->failed = true;
    const char *m = wisp_error();
    char *copy = strdup(m[0] != '\0' ? m : "");
    if (copy == NULL) abort();
    if (copy[0] != '\0')
        wisp_fail("c function %.*s (%s) failed: %s", (int)s->name_len, (const char *)s->name, kind_name(s->kind), copy);
    else
        wisp_fail("c function %.*s (%s) failed with status %d", (int)s->name_len, (const char *)s->name,
                  kind_name(s->kind), rc);
    free(copy);
    return -1;
}

/* A record `s` could not decode. */
static int bad_record(stage *s, const char *what) {
    chain *c = s->owner;
    if (c->failed) return -1;
    c->failed = true;
    char *copy = strdup(wisp_error());
    if (copy == NULL) abort();
    wisp_fail("op %.*s (%s): input record is not %s: %s", (int)s->name_len, (const char *)s->name, kind_name(s->kind),
              what, copy);
    free(copy);
    return -1;
}

static void sink(chain *c, wisp_bytes rec) {
    wisp_put_raw(&c->data, rec.ptr, rec.len);
    if (c->ends_len == c->ends_cap) {
        size_t cap = c->ends_cap < 1024 ? 1024 : c->ends_cap * 2;
        uint32_t *p = realloc(c->ends, cap * sizeof(uint32_t));
        if (p == NULL) abort();
        c->ends = p;
        c->ends_cap = cap;
    }
    c->ends[c->ends_len++] = (uint32_t)c->data.len;
}

static int feed(stage *s, wisp_bytes rec);

static inline int emit_next(stage *s, wisp_bytes rec) {
    if (s->next != NULL) return feed(s->next, rec);
    sink(s->owner, rec);
    return 0;
}

int wisp_emit(wisp_emitter *e, const void *data, size_t len) {
    if (!e->values) {
        wisp_bytes rec = {data, len};
        return emit_next(e->owner, rec);
    }
    wisp_buf_clear(&e->buf);
    wisp_put_pair_key(&e->buf, e->key.ptr, e->key.len);
    wisp_put_raw(&e->buf, data, len);
    return emit_next(e->owner, wisp_buf_bytes(&e->buf));
}

wisp_buf *wisp_emit_begin(wisp_emitter *e) {
    wisp_buf_clear(&e->buf);
    if (e->values) wisp_put_pair_key(&e->buf, e->key.ptr, e->key.len);
    return &e->buf;
}

int wisp_emit_end(wisp_emitter *e) { return emit_next(e->owner, wisp_buf_bytes(&e->buf)); }

/* ----------------------------------------------------------------- table */

static inline uint64_t load8(const uint8_t *p) {
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* Keys of up to 16 bytes as two zero-padded little-endian words, without a
 * variable-length memcpy (a call out of the guest on wasm). */
static inline void pack16(const uint8_t *p, size_t n, uint64_t w[2]) {
    if (n >= 8) {
        w[0] = load8(p);
        w[1] = n == 8 ? 0 : load8(p + n - 8) >> (8 * (16 - n));
    } else {
        uint64_t v = 0;
        if (n >= 4) {
            uint32_t a, z;
            memcpy(&a, p, 4);
            memcpy(&z, p + n - 4, 4);
            v = (uint64_t)a | (uint64_t)z << (8 * (n - 4));
        } else {
            for (size_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
        }
        w[0] = v;
        w[1] = 0;
    }
}

static inline uint64_t mix(uint64_t h) {
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

static inline uint64_t hash_short(const uint64_t w[2], size_t n) {
    return mix((w[0] ^ (uint64_t)n * 0x9e3779b97f4a7c15ull) * 0xff51afd7ed558ccdull + w[1] * 0xc4ceb9fe1a85ec53ull);
}

static uint64_t hash_long(const uint8_t *p, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
    while (n >= 8) {
        h = (h ^ load8(p)) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t w[2];
    pack16(p, n, w);
    return mix((h ^ w[0]) * 0xc4ceb9fe1a85ec53ull);
}

static inline uint64_t hash_key(const uint8_t *p, size_t n, uint64_t packed[2]) {
    if (n <= INLINE_KEY) {
        pack16(p, n, packed);
        return hash_short(packed, n);
    }
    packed[0] = packed[1] = 0;
    return hash_long(p, n);
}

static inline entry_head *entry_at(table *t, size_t i) { return (entry_head *)(t->entries + i * t->stride); }
static inline void *entry_state(entry_head *e) { return (uint8_t *)e + sizeof(entry_head); }
static inline const uint8_t *entry_key(table *t, entry_head *e) {
    return e->key_len <= INLINE_KEY ? (const uint8_t *)e->key : t->keys.ptr + e->key_off;
}
static inline uint8_t ctrl_of(uint64_t h) { return (uint8_t)(0x80 | (h >> 57)); }

static void table_init(table *t, size_t state_size) {
    memset(t, 0, sizeof(*t));
    t->state_size = state_size;
    t->stride = sizeof(entry_head) + ((state_size + 7) & ~(size_t)7);
}

static void table_rehash(table *t, size_t nslots) {
    uint8_t *old_ctrl = t->ctrl, *old_entries = t->entries;
    size_t old_slots = old_ctrl != NULL ? t->mask + 1 : 0;
    t->ctrl = calloc(nslots, 1);
    t->entries = malloc(nslots * t->stride);
    if (t->ctrl == NULL || t->entries == NULL) abort();
    t->mask = nslots - 1;
    for (size_t i = 0; i < old_slots; i++) {
        if (old_ctrl[i] == 0) continue;
        entry_head *e = (entry_head *)(old_entries + i * t->stride);
        uint64_t h = e->key_len <= INLINE_KEY ? hash_short(e->key, e->key_len) : hash_long(entry_key(t, e), e->key_len);
        size_t j = (size_t)h & t->mask;
        while (t->ctrl[j] != 0) j = (j + 1) & t->mask;
        t->ctrl[j] = old_ctrl[i];
        memcpy(entry_at(t, j), e, t->stride);
    }
    free(old_ctrl);
    free(old_entries);
}

/* The state for `key`; *fresh tells whether the entry was just made (its
 * state zeroed). Valid until the next table_get. */
static void *table_get(table *t, wisp_bytes key, bool *fresh) {
    if (t->ctrl == NULL) table_rehash(t, 1024);
    uint64_t padded[INLINE_KEY / 8];
    uint64_t h = hash_key(key.ptr, key.len, padded);
    uint8_t tag = ctrl_of(h);
    bool short_key = key.len <= INLINE_KEY;
    size_t j = (size_t)h & t->mask;
    for (;;) {
        uint8_t c = t->ctrl[j];
        if (c == 0) break;
        if (c == tag) {
            entry_head *e = entry_at(t, j);
            if (e->key_len == key.len &&
                (short_key ? (e->key[0] == padded[0] && e->key[1] == padded[1])
                           : memcmp(t->keys.ptr + e->key_off, key.ptr, key.len) == 0)) {
                *fresh = false;
                return entry_state(e);
            }
        }
        j = (j + 1) & t->mask;
    }
    if ((t->count + 1) * 4 > (t->mask + 1) * 3) {
        table_rehash(t, (t->mask + 1) * 2);
        j = (size_t)h & t->mask;
        while (t->ctrl[j] != 0) j = (j + 1) & t->mask;
    }
    entry_head *e = entry_at(t, j);
    e->key_len = (uint32_t)key.len;
    e->key_off = 0;
    e->key[0] = padded[0];
    e->key[1] = padded[1];
    if (!short_key) {
        e->key_off = (uint32_t)t->keys.len;
        wisp_put_raw(&t->keys, key.ptr, key.len);
    }
    memset(entry_state(e), 0, t->state_size);
    t->ctrl[j] = tag;
    t->count++;
    *fresh = true;
    return entry_state(e);
}

/* Sorting a table's keys: each entry as its first 16 key bytes as two
 * big-endian words (zero-padded, so they order like the bytes), its length
 * and index. A tie on the words means one key is a prefix of the other (the
 * shorter sorts first) unless both are longer than 16 bytes. An inline
 * quicksort, not qsort: a callback and wasi-libc's byte-loop memcmp per
 * comparison cost more than the rest of a word count's combine. */
typedef struct sort_item {
    uint64_t hi, lo;
    uint32_t len, index;
} sort_item;

static inline bool item_less(table *t, const sort_item *a, const sort_item *b) {
    if (a->hi != b->hi) return a->hi < b->hi;
    if (a->lo != b->lo) return a->lo < b->lo;
    if (a->len > INLINE_KEY && b->len > INLINE_KEY) {
        entry_head *x = entry_at(t, a->index), *y = entry_at(t, b->index);
        size_t n = (a->len < b->len ? a->len : b->len) - INLINE_KEY;
        int c = memcmp(entry_key(t, x) + INLINE_KEY, entry_key(t, y) + INLINE_KEY, n);
        if (c != 0) return c < 0;
    }
    return a->len < b->len;
}

static void sort_items(table *t, sort_item *v, size_t n) {
    while (n > 16) {
        /* Median of three to the front, then Hoare partition around it. */
        size_t mid = n / 2;
        sort_item tmp;
        if (item_less(t, &v[mid], &v[0])) tmp = v[mid], v[mid] = v[0], v[0] = tmp;
        if (item_less(t, &v[n - 1], &v[mid])) {
            tmp = v[n - 1], v[n - 1] = v[mid], v[mid] = tmp;
            if (item_less(t, &v[mid], &v[0])) tmp = v[mid], v[mid] = v[0], v[0] = tmp;
        }
        sort_item pivot = v[mid];
        size_t i = 0, j = n - 1;
        for (;;) {
            while (item_less(t, &v[i], &pivot)) i++;
            while (item_less(t, &pivot, &v[j])) j--;
            if (i >= j) break;
            tmp = v[i], v[i] = v[j], v[j] = tmp;
            i++;
            j--;
        }
        /* v[0..=j] <= pivot <= v[j+1..]: recurse into the smaller side. */
        size_t left = j + 1;
        if (left < n - left) {
            sort_items(t, v, left);
            v += left;
            n -= left;
        } else {
            sort_items(t, v + left, n - left);
            n = left;
        }
    }
    for (size_t i = 1; i < n; i++) {
        sort_item x = v[i];
        size_t j = i;
        while (j > 0 && item_less(t, &x, &v[j - 1])) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static void table_free(table *t) {
    free(t->ctrl);
    free(t->entries);
    wisp_buf_free(&t->keys);
    size_t state_size = t->state_size;
    table_init(t, state_size);
}

/* ------------------------------------------------------------ aggregation */

static size_t agg_state_size(const wisp_function *f) {
    switch (f->kind) {
    case WISP_FN_REDUCER_S64:
        return sizeof(int64_t);
    case WISP_FN_REDUCER:
        return sizeof(wisp_buf);
    default:
        return f->fn.aggregator->state_size;
    }
}

/* Adds `v` (a value for combine, a combiner for merge) to the state of its key. */
static int agg_add(stage *s, void *st, bool fresh, wisp_bytes v) {
    const wisp_function *f = s->fn;
    switch (f->kind) {
    case WISP_FN_REDUCER_S64: {
        int64_t x;
        if (wisp_get_s64(v, &x) != 0) return bad_record(s, "a pair with an s64 value");
        if (fresh) {
            *(int64_t *)st = x;
            return 0;
        }
        unsigned before = wisp__fail_count;
        int64_t r = f->fn.reducer_s64(*(int64_t *)st, x);
        if (wisp__fail_count != before) return fn_failed(s, -1);
        *(int64_t *)st = r;
        return 0;
    }
    case WISP_FN_REDUCER: {
        wisp_buf *b = st;
        if (fresh) {
            wisp_put_raw(b, v.ptr, v.len);
            return 0;
        }
        wisp_buf_clear(&s->out2);
        int rc = f->fn.reducer(wisp_buf_bytes(b), v, &s->out2);
        if (rc != 0) return fn_failed(s, rc);
        wisp_buf tmp = *b;
        *b = s->out2;
        s->out2 = tmp;
        return 0;
    }
    default: {
        const wisp_aggregator *a = f->fn.aggregator;
        int rc;
        if (s->kind == WISP_OP_MERGE)
            rc = fresh ? a->load(st, v) : a->merge_combiners(st, v);
        else
            rc = fresh ? a->create(st, v) : a->merge_value(st, v);
        return rc != 0 ? fn_failed(s, rc) : 0;
    }
    }
}

static int agg_store(stage *s, void *st, wisp_buf *out) {
    switch (s->fn->kind) {
    case WISP_FN_REDUCER_S64:
        wisp_put_s64(out, *(int64_t *)st);
        return 0;
    case WISP_FN_REDUCER: {
        wisp_buf *b = st;
        wisp_put_raw(out, b->ptr, b->len);
        return 0;
    }
    default: {
        int rc = s->fn->fn.aggregator->store(st, out);
        return rc != 0 ? fn_failed(s, rc) : 0;
    }
    }
}

static void agg_drop(stage *s, void *st) {
    if (s->fn->kind == WISP_FN_REDUCER)
        wisp_buf_free(st);
    else if (s->fn->kind == WISP_FN_AGGREGATOR && s->fn->fn.aggregator->drop != NULL)
        s->fn->fn.aggregator->drop(st);
}

/* Emits (key, combiner) pairs in ascending key-byte order, then empties the table. */
static int agg_finish(stage *s) {
    table *t = &s->tbl;
    int rc = 0;
    if (t->count > 0) {
        sort_item *order = malloc(t->count * sizeof(sort_item));
        if (order == NULL) abort();
        size_t n = 0;
        for (size_t i = 0; i <= t->mask; i++) {
            if (t->ctrl[i] == 0) continue;
            entry_head *e = entry_at(t, i);
            uint64_t w[2];
            if (e->key_len <= INLINE_KEY) {
                w[0] = e->key[0];
                w[1] = e->key[1];
            } else {
                pack16(entry_key(t, e), INLINE_KEY, w);
            }
            order[n].hi = __builtin_bswap64(w[0]);
            order[n].lo = __builtin_bswap64(w[1]);
            order[n].len = e->key_len;
            order[n].index = (uint32_t)i;
            n++;
        }
        sort_items(t, order, t->count);
        for (size_t i = 0; i < t->count && rc == 0; i++) {
            entry_head *e = entry_at(t, order[i].index);
            wisp_buf_clear(&s->out);
            wisp_put_pair_key(&s->out, entry_key(t, e), e->key_len);
            rc = agg_store(s, entry_state(e), &s->out);
            if (rc == 0) rc = emit_next(s, wisp_buf_bytes(&s->out));
        }
        free(order);
        for (size_t i = 0; i <= t->mask; i++)
            if (t->ctrl[i] != 0) agg_drop(s, entry_state(entry_at(t, i)));
    }
    table_free(t);
    return rc;
}

/* ------------------------------------------------------------ fold, reduce */

/* acc = f(acc, v) for fold and reduce (acc present). */
static int fold_in(stage *s, wisp_bytes v) {
    if (s->fn->kind == WISP_FN_REDUCER_S64) {
        int64_t x;
        if (wisp_get_s64(v, &x) != 0) return bad_record(s, "an s64");
        unsigned before = wisp__fail_count;
        int64_t r = s->fn->fn.reducer_s64(s->acc_s64, x);
        if (wisp__fail_count != before) return fn_failed(s, -1);
        s->acc_s64 = r;
        return 0;
    }
    wisp_buf_clear(&s->out2);
    int rc = s->fn->fn.reducer(wisp_buf_bytes(&s->acc), v, &s->out2);
    if (rc != 0) return fn_failed(s, rc);
    wisp_buf tmp = s->acc;
    s->acc = s->out2;
    s->out2 = tmp;
    return 0;
}

/* acc = v (the fold's zero, the reduce's first record). */
static int acc_set(stage *s, wisp_bytes v, const char *what) {
    s->has_acc = true;
    if (s->fn->kind == WISP_FN_REDUCER_S64) return wisp_get_s64(v, &s->acc_s64) != 0 ? bad_record(s, what) : 0;
    wisp_buf_clear(&s->acc);
    wisp_put_raw(&s->acc, v.ptr, v.len);
    return 0;
}

static int acc_emit(stage *s) {
    if (!s->has_acc) return 0;
    s->has_acc = false;
    if (s->fn->kind == WISP_FN_REDUCER_S64) {
        wisp_buf_clear(&s->out);
        wisp_put_s64(&s->out, s->acc_s64);
        return emit_next(s, wisp_buf_bytes(&s->out));
    }
    return emit_next(s, wisp_buf_bytes(&s->acc));
}

/* ------------------------------------------------------------- the chain */

static int feed_stage(stage *s, wisp_bytes rec) {
    const wisp_function *f = s->fn;
    int rc;
    switch (s->kind) {
    case WISP_OP_MAP:
        wisp_buf_clear(&s->out);
        rc = f->fn.map(rec, &s->out);
        if (rc != 0) return fn_failed(s, rc);
        return emit_next(s, wisp_buf_bytes(&s->out));
    case WISP_OP_FILTER: {
        bool keep = false;
        rc = f->fn.filter(rec, &keep);
        if (rc != 0) return fn_failed(s, rc);
        return keep ? emit_next(s, rec) : 0;
    }
    case WISP_OP_FLAT_MAP:
        s->em.values = false;
        rc = f->fn.flat_map(rec, &s->em);
        return rc != 0 ? fn_failed(s, rc) : 0;
    case WISP_OP_MAP_PARTITIONS:
        if (f->kind == WISP_FN_SDK_STREAM) {
            s->em.values = false;
            rc = ((const wisp__stream *)f->fn.sdk)->record(s->stream, rec, &s->em);
            return rc != 0 ? fn_failed(s, rc) : 0;
        }
        wisp_batch_push(&s->records, rec.ptr, rec.len);
        return 0;
    case WISP_OP_MAP_VALUES: {
        wisp_bytes k, v;
        if (wisp_split_pair(rec, &k, &v) != 0) return bad_record(s, "a pair");
        wisp_buf_clear(&s->out2);
        rc = f->fn.map(v, &s->out2);
        if (rc != 0) return fn_failed(s, rc);
        wisp_buf_clear(&s->out);
        wisp_put_pair_key(&s->out, k.ptr, k.len);
        wisp_put_raw(&s->out, s->out2.ptr, s->out2.len);
        return emit_next(s, wisp_buf_bytes(&s->out));
    }
    case WISP_OP_FLAT_MAP_VALUES: {
        wisp_bytes v;
        if (wisp_split_pair(rec, &s->em.key, &v) != 0) return bad_record(s, "a pair");
        s->em.values = true;
        rc = f->fn.flat_map(v, &s->em);
        return rc != 0 ? fn_failed(s, rc) : 0;
    }
    case WISP_OP_KEY_BY:
        wisp_buf_clear(&s->out2);
        rc = f->fn.map(rec, &s->out2);
        if (rc != 0) return fn_failed(s, rc);
        wisp_buf_clear(&s->out);
        wisp_put_pair_key(&s->out, s->out2.ptr, s->out2.len);
        wisp_put_raw(&s->out, rec.ptr, rec.len);
        return emit_next(s, wisp_buf_bytes(&s->out));
    case WISP_OP_COMBINE:
    case WISP_OP_MERGE: {
        wisp_bytes k, v;
        if (wisp_split_pair(rec, &k, &v) != 0) return bad_record(s, "a pair");
        bool fresh;
        void *st = table_get(&s->tbl, k, &fresh);
        return agg_add(s, st, fresh, v);
    }
    case WISP_OP_FOLD:
        return fold_in(s, rec);
    case WISP_OP_REDUCE:
        return s->has_acc ? fold_in(s, rec) : acc_set(s, rec, "an s64");
    }
    return wisp_fail("unknown op kind %d", (int)s->kind);
}

static int feed(stage *s, wisp_bytes rec) {
    stage *prev = current;
    current = s;
    int rc = feed_stage(s, rec);
    current = prev;
    return rc;
}

static int finish_stage(stage *s) {
    switch (s->kind) {
    case WISP_OP_MAP_PARTITIONS: {
        s->em.values = false;
        if (s->fn->kind == WISP_FN_SDK_STREAM) {
            int rc = ((const wisp__stream *)s->fn->fn.sdk)->end(s->stream, &s->em);
            return rc != 0 ? fn_failed(s, rc) : 0;
        }
        int rc = s->fn->fn.map_partitions(&s->records, &s->em);
        wisp_batch_free(&s->records);
        return rc != 0 ? fn_failed(s, rc) : 0;
    }
    case WISP_OP_COMBINE:
    case WISP_OP_MERGE:
        return agg_finish(s);
    case WISP_OP_FOLD:
    case WISP_OP_REDUCE:
        return acc_emit(s);
    default:
        return 0;
    }
}

static bool kind_fits(wisp_fn_kind f, wisp_op_kind k) {
    switch (f) {
    case WISP_FN_MAP:
        return k == WISP_OP_MAP || k == WISP_OP_MAP_VALUES || k == WISP_OP_KEY_BY;
    case WISP_FN_FILTER:
        return k == WISP_OP_FILTER;
    case WISP_FN_FLAT_MAP:
        return k == WISP_OP_FLAT_MAP || k == WISP_OP_FLAT_MAP_VALUES;
    case WISP_FN_MAP_PARTITIONS:
        return k == WISP_OP_MAP_PARTITIONS;
    case WISP_FN_REDUCER:
    case WISP_FN_REDUCER_S64:
        return k == WISP_OP_COMBINE || k == WISP_OP_MERGE || k == WISP_OP_FOLD || k == WISP_OP_REDUCE;
    case WISP_FN_AGGREGATOR:
        return k == WISP_OP_COMBINE || k == WISP_OP_MERGE;
    case WISP_FN_SDK_STREAM:
        return k == WISP_OP_MAP_PARTITIONS;
    case WISP_FN_COMPARATOR:
        return false;
    }
    return false;
}

static const wisp_function *function_named(const uint8_t *name, size_t len) {
    for (size_t i = 0; i < wisp_functions_len; i++) {
        const char *n = wisp_functions[i].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0) return &wisp_functions[i];
    }
    size_t sdk_len = &wisp__sdk_functions_len != NULL ? wisp__sdk_functions_len : 0;
    for (size_t i = 0; i < sdk_len; i++) {
        const char *n = wisp__sdk_functions[i].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0) return &wisp__sdk_functions[i];
    }
    return NULL;
}

const wisp_function *wisp__function_named(const uint8_t *name, size_t len) { return function_named(name, len); }

static void chain_free(chain *c) {
    for (size_t i = 0; i < c->len; i++) {
        stage *s = &c->stages[i];
        if (s->kind == WISP_OP_COMBINE || s->kind == WISP_OP_MERGE) {
            for (size_t j = 0; s->tbl.ctrl != NULL && j <= s->tbl.mask; j++)
                if (s->tbl.ctrl[j] != 0) agg_drop(s, entry_state(entry_at(&s->tbl, j)));
            table_free(&s->tbl);
        }
        wisp_buf_free(&s->out);
        wisp_buf_free(&s->out2);
        wisp_buf_free(&s->em.buf);
        wisp_buf_free(&s->acc);
        wisp_batch_free(&s->records);
        if (s->stream != NULL) {
            const wisp__stream *st = s->fn->fn.sdk;
            if (st->drop != NULL) st->drop(s->stream);
            free(s->stream);
        }
    }
    free(c->stages);
    wisp_buf_free(&c->data);
    free(c->ends);
    exports_wisp_task_pipeline_list_op_free(&c->ops);
}

static void error_to_wit(job_string_t *err) {
    const char *m = wisp_error();
    job_string_dup(err, m[0] != '\0' ? m : "c task failed without a message");
}

bool exports_wisp_task_pipeline_static_task_create(exports_wisp_task_pipeline_list_op_t *ops, uint32_t partition,
                                                   exports_wisp_task_pipeline_own_task_t *ret, job_string_t *err) {
    exports_wisp_task_pipeline_task_t *task = calloc(1, sizeof(*task));
    if (task == NULL) abort();
    chain *c = &task->c;
    c->ops = *ops;
    c->partition = partition;
    c->len = ops->len;
    c->stages = calloc(ops->len ? ops->len : 1, sizeof(stage));
    if (c->stages == NULL) abort();
    wisp_clear_error();
    for (size_t i = 0; i < ops->len; i++) {
        exports_wisp_task_pipeline_op_t *op = &ops->ptr[i];
        stage *s = &c->stages[i];
        s->kind = (wisp_op_kind)op->kind;
        s->name = op->name.ptr;
        s->name_len = op->name.len;
        s->args.ptr = op->args.ptr;
        s->args.len = op->args.len;
        s->owner = c;
        s->next = i + 1 < ops->len ? &c->stages[i + 1] : NULL;
        s->em.owner = s;
        s->fn = function_named(op->name.ptr, op->name.len);
        if (s->fn == NULL) {
            wisp_fail("op %.*s (%s): no such c function in this component (list it in WISP_FUNCTIONS)",
                      (int)op->name.len, (const char *)op->name.ptr, kind_name(s->kind));
            goto fail;
        }
        if ((unsigned)s->kind > WISP_OP_REDUCE || !kind_fits(s->fn->kind, s->kind)) {
            wisp_fail("op %.*s: c function %s cannot run as a %s op", (int)op->name.len, (const char *)op->name.ptr,
                      s->fn->name, kind_name(s->kind));
            goto fail;
        }
        if (s->kind == WISP_OP_COMBINE || s->kind == WISP_OP_MERGE) table_init(&s->tbl, agg_state_size(s->fn));
        if (s->fn->kind == WISP_FN_SDK_STREAM) {
            const wisp__stream *st = s->fn->fn.sdk;
            s->stream = calloc(1, st->state_size ? st->state_size : 1);
            if (s->stream == NULL) abort();
            current = s;
            int rc = st->begin != NULL ? st->begin(s->stream) : 0;
            current = NULL;
            if (rc != 0) {
                fn_failed(s, rc);
                goto fail;
            }
        }
        if (s->kind == WISP_OP_FOLD) {
            current = s;
            int rc = acc_set(s, s->args, "an s64 (the fold's zero value)");
            current = NULL;
            if (rc != 0) goto fail;
        }
    }
    *ret = exports_wisp_task_pipeline_task_new(task);
    return true;
fail:
    error_to_wit(err);
    chain_free(c);
    free(task);
    return false;
}

/* Hands the chain's output to the host (the post-return frees it). */
static void take_output(chain *c, exports_wisp_task_pipeline_batch_t *ret) {
    if (c->ends_len == 0) {
        ret->data.ptr = NULL;
        ret->data.len = 0;
        ret->ends.ptr = NULL;
        ret->ends.len = 0;
        c->data.len = 0;
        return;
    }
    ret->data.ptr = c->data.ptr;
    ret->data.len = c->data.len;
    ret->ends.ptr = c->ends;
    ret->ends.len = c->ends_len;
    memset(&c->data, 0, sizeof(c->data));
    c->ends = NULL;
    c->ends_len = c->ends_cap = 0;
}

bool exports_wisp_task_pipeline_method_task_push(exports_wisp_task_pipeline_borrow_task_t self,
                                                 exports_wisp_task_pipeline_batch_t *input,
                                                 exports_wisp_task_pipeline_batch_t *ret, job_string_t *err) {
    chain *c = &self->c;
    const uint8_t *data = input->data.ptr;
    size_t n = input->data.len;
    const uint32_t *ends = input->ends.ptr;
    size_t start = 0;
    int rc = 0;
    for (size_t i = 0; i < input->ends.len && rc == 0; i++) {
        size_t end = ends[i];
        if (end < start || end > n) {
            rc = wisp_fail("malformed batch: end offset %zu out of order or past %zu bytes", end, n);
            break;
        }
        wisp_bytes rec = {data + start, end - start};
        if (c->len == 0)
            sink(c, rec);
        else
            rc = feed(&c->stages[0], rec);
        start = end;
    }
    /* A function that ignored a failed wisp_emit still fails the task. */
    if (rc == 0 && c->failed) rc = -1;
    if (rc == 0 && start != n) rc = wisp_fail("malformed batch: %zu data bytes but records end at %zu", n, start);
    exports_wisp_task_pipeline_batch_free(input);
    if (rc != 0) {
        error_to_wit(err);
        return false;
    }
    take_output(c, ret);
    return true;
}

bool exports_wisp_task_pipeline_method_task_finish(exports_wisp_task_pipeline_borrow_task_t self,
                                                   exports_wisp_task_pipeline_batch_t *ret, job_string_t *err) {
    chain *c = &self->c;
    for (size_t i = 0; i < c->len; i++) {
        current = &c->stages[i];
        int rc = finish_stage(&c->stages[i]);
        current = NULL;
        if (rc == 0 && c->failed) rc = -1;
        if (rc != 0) {
            error_to_wit(err);
            return false;
        }
    }
    take_output(c, ret);
    return true;
}

void exports_wisp_task_pipeline_task_destructor(exports_wisp_task_pipeline_task_t *rep) {
    chain_free(&rep->c);
    free(rep);
}

/* ================================================================ driver */

static job_string_t borrow_str(const char *s) {
    job_string_t r = {(uint8_t *)s, strlen(s)};
    return r;
}

/* Takes the host's error string as the current error message. */
static int host_error(job_string_t *err) {
    wisp_fail("%.*s", (int)err->len, (const char *)err->ptr);
    job_string_free(err);
    return -1;
}

static wisp_rdd rdd_result(bool ok, wisp_task_driver_rdd_id_t id, job_string_t *err) {
    if (!ok) {
        host_error(err);
        return WISP_NO_RDD;
    }
    return id;
}

static uint32_t partitions_or_default(uint32_t partitions) {
    return partitions != 0 ? partitions : wisp_task_driver_default_parallelism();
}

char *wisp_conf(const char *key) {
    job_string_t k = borrow_str(key), v;
    if (!wisp_task_driver_conf(&k, &v)) return NULL;
    char *r = malloc(v.len + 1);
    if (r == NULL) abort();
    memcpy(r, v.ptr, v.len);
    r[v.len] = '\0';
    job_string_free(&v);
    return r;
}

uint32_t wisp_default_parallelism(void) { return wisp_task_driver_default_parallelism(); }

int wisp_load_functions(const char *path, uint32_t *component) {
    job_string_t p = borrow_str(path), err;
    if (!wisp_task_driver_load_functions(&p, component, &err)) return host_error(&err);
    return 0;
}

uint32_t wisp_builtins(void) {
    /* UINT32_MAX (no such component) if the host refused: the ops using it then fail naming it. */
    static uint32_t id = UINT32_MAX;
    if (id == UINT32_MAX && wisp_load_functions(WISP_BUILTINS, &id) != 0) id = UINT32_MAX;
    return id;
}

wisp_rdd wisp_text_file(const char *path, uint32_t min_partitions) {
    job_string_t p = borrow_str(path), err;
    wisp_task_driver_rdd_id_t id = 0;
    bool ok = wisp_task_driver_text_file(&p, min_partitions, &id, &err);
    return rdd_result(ok, id, &err);
}

wisp_rdd wisp_parallelize(const wisp_batch *records, uint32_t slices) {
    wisp_task_driver_batch_t b = {{records->data, records->data_len}, {records->ends, records->count}};
    job_string_t err;
    wisp_task_driver_rdd_id_t id = 0;
    bool ok = wisp_task_driver_parallelize(&b, slices, &id, &err);
    return rdd_result(ok, id, &err);
}

wisp_rdd wisp_transform(wisp_rdd parent, wisp_op_kind kind, const char *name, const void *args, size_t args_len,
                        uint32_t component) {
    if (parent == WISP_NO_RDD) return WISP_NO_RDD;
    wisp_task_driver_op_t op = {(wisp_task_types_op_kind_t)kind, borrow_str(name), {(uint8_t *)args, args_len}};
    job_string_t err;
    wisp_task_driver_rdd_id_t id = 0;
    bool ok = wisp_task_driver_transform(parent, &op, component, &id, &err);
    return rdd_result(ok, id, &err);
}

/* The registered name of function `f` of kind `kind`, or NULL (error set). */
static const char *name_of(wisp_fn_kind kind, const void *f, const char *api) {
    for (size_t i = 0; i < wisp_functions_len; i++) {
        const wisp_function *w = &wisp_functions[i];
        if (w->kind != kind) continue;
        const void *p = NULL;
        switch (kind) {
        case WISP_FN_MAP:
            p = (const void *)w->fn.map;
            break;
        case WISP_FN_FILTER:
            p = (const void *)w->fn.filter;
            break;
        case WISP_FN_FLAT_MAP:
            p = (const void *)w->fn.flat_map;
            break;
        case WISP_FN_MAP_PARTITIONS:
            p = (const void *)w->fn.map_partitions;
            break;
        case WISP_FN_REDUCER:
            p = (const void *)w->fn.reducer;
            break;
        case WISP_FN_REDUCER_S64:
            p = (const void *)w->fn.reducer_s64;
            break;
        case WISP_FN_AGGREGATOR:
            p = (const void *)w->fn.aggregator;
            break;
        case WISP_FN_COMPARATOR:
            p = (const void *)w->fn.comparator;
            break;
        case WISP_FN_SDK_STREAM:
            p = w->fn.sdk;
            break;
        }
        if (p == f) return w->name;
    }
    wisp_fail("%s: the function is not listed in WISP_FUNCTIONS with the matching WISP_* kind", api);
    return NULL;
}

static wisp_rdd transform_fn(wisp_rdd parent, wisp_op_kind kind, wisp_fn_kind fkind, const void *f, const char *api) {
    if (parent == WISP_NO_RDD) return WISP_NO_RDD;
    const char *name = name_of(fkind, f, api);
    if (name == NULL) return WISP_NO_RDD;
    return wisp_transform(parent, kind, name, NULL, 0, 0);
}

wisp_rdd wisp_map(wisp_rdd parent, wisp_map_fn f) {
    return transform_fn(parent, WISP_OP_MAP, WISP_FN_MAP, (const void *)f, "wisp_map");
}
wisp_rdd wisp_filter(wisp_rdd parent, wisp_filter_fn f) {
    return transform_fn(parent, WISP_OP_FILTER, WISP_FN_FILTER, (const void *)f, "wisp_filter");
}
wisp_rdd wisp_flat_map(wisp_rdd parent, wisp_flat_map_fn f) {
    return transform_fn(parent, WISP_OP_FLAT_MAP, WISP_FN_FLAT_MAP, (const void *)f, "wisp_flat_map");
}
wisp_rdd wisp_map_partitions(wisp_rdd parent, wisp_map_partitions_fn f) {
    return transform_fn(parent, WISP_OP_MAP_PARTITIONS, WISP_FN_MAP_PARTITIONS, (const void *)f, "wisp_map_partitions");
}
wisp_rdd wisp_map_values(wisp_rdd parent, wisp_map_fn f) {
    return transform_fn(parent, WISP_OP_MAP_VALUES, WISP_FN_MAP, (const void *)f, "wisp_map_values");
}
wisp_rdd wisp_flat_map_values(wisp_rdd parent, wisp_flat_map_fn f) {
    return transform_fn(parent, WISP_OP_FLAT_MAP_VALUES, WISP_FN_FLAT_MAP, (const void *)f, "wisp_flat_map_values");
}
wisp_rdd wisp_key_by(wisp_rdd parent, wisp_map_fn f) {
    return transform_fn(parent, WISP_OP_KEY_BY, WISP_FN_MAP, (const void *)f, "wisp_key_by");
}

wisp_rdd wisp_combine_by_key_named(wisp_rdd parent, const char *name, const void *args, size_t args_len,
                                   uint32_t component, uint32_t partitions, bool map_side_combine) {
    if (parent == WISP_NO_RDD) return WISP_NO_RDD;
    wisp_task_driver_op_t op = {WISP_TASK_TYPES_OP_KIND_COMBINE, borrow_str(name), {(uint8_t *)args, args_len}};
    job_string_t err;
    wisp_task_driver_rdd_id_t id = 0;
    bool ok = wisp_task_driver_combine_by_key(parent, &op, component, partitions_or_default(partitions),
                                              map_side_combine, &id, &err);
    return rdd_result(ok, id, &err);
}

static wisp_rdd combine_fn(wisp_rdd parent, wisp_fn_kind fkind, const void *f, uint32_t partitions, const char *api) {
    if (parent == WISP_NO_RDD) return WISP_NO_RDD;
    const char *name = name_of(fkind, f, api);
    if (name == NULL) return WISP_NO_RDD;
    return wisp_combine_by_key_named(parent, name, NULL, 0, 0, partitions, true);
}

wisp_rdd wisp_reduce_by_key(wisp_rdd parent, wisp_reducer_fn f, uint32_t partitions) {
    return combine_fn(parent, WISP_FN_REDUCER, (const void *)f, partitions, "wisp_reduce_by_key");
}
wisp_rdd wisp_reduce_by_key_s64(wisp_rdd parent, wisp_reducer_s64_fn f, uint32_t partitions) {
    return combine_fn(parent, WISP_FN_REDUCER_S64, (const void *)f, partitions, "wisp_reduce_by_key_s64");
}
wisp_rdd wisp_combine_by_key(wisp_rdd parent, const wisp_aggregator *a, uint32_t partitions) {
    return combine_fn(parent, WISP_FN_AGGREGATOR, (const void *)a, partitions, "wisp_combine_by_key");
}

#define SHUFFLE(call)                                                                                                  \
    job_string_t err;                                                                                                  \
    wisp_task_driver_rdd_id_t id = 0;                                                                                  \
    bool ok = call;                                                                                                    \
    return rdd_result(ok, id, &err)

wisp_rdd wisp_group_by_key(wisp_rdd parent, uint32_t partitions) {
    if (parent == WISP_NO_RDD) return WISP_NO_RDD;
    SHUFFLE(wisp_task_driver_group_by_key(parent, partitions_or_default(partitions), &id, &err));
}
wisp_rdd wisp_join(wisp_rdd left, wisp_rdd right, wisp_join_kind kind, uint32_t partitions) {
    if (left == WISP_NO_RDD || right == WISP_NO_RDD) return WISP_NO_RDD;
    SHUFFLE(wisp_task_driver_join(left, right, (wisp_task_driver_join_kind_t)kind, partitions_or_default(partitions),
                                  &id, &err));
}
wisp_rdd wisp_cogroup(const wisp_rdd *parents, size_t count, uint32_t partitions) {
    for (size_t i = 0; i < count; i++)
        if (parents[i] == WISP_NO_RDD) return WISP_NO_RDD;
    wisp_task_driver_list_rdd_id_t list = {(wisp_task_driver_rdd_id_t *)parents, count};
    SHUFFLE(wisp_task_driver_cogroup(&list, partitions_or_default(partitions), &id, &err));
}
wisp_rdd wisp_union(const wisp_rdd *rdds, size_t count) {
    for (size_t i = 0; i < count; i++)
        if (rdds[i] == WISP_NO_RDD) return WISP_NO_RDD;
    wisp_task_driver_list_rdd_id_t list = {(wisp_task_driver_rdd_id_t *)rdds, count};
    SHUFFLE(wisp_task_driver_union(&list, &id, &err));
}
wisp_rdd wisp_distinct(wisp_rdd parent, uint32_t partitions) {
    if (parent == WISP_NO_RDD) return WISP_NO_RDD;
    SHUFFLE(wisp_task_driver_distinct(parent, partitions_or_default(partitions), &id, &err));
}
wisp_rdd wisp_sort_by_key(wisp_rdd parent, bool ascending, uint32_t partitions) {
    if (parent == WISP_NO_RDD) return WISP_NO_RDD;
    SHUFFLE(wisp_task_driver_sort_by_key(parent, ascending, partitions_or_default(partitions), &id, &err));
}
wisp_rdd wisp_partition_by(wisp_rdd parent, uint32_t partitions) {
    if (parent == WISP_NO_RDD) return WISP_NO_RDD;
    SHUFFLE(wisp_task_driver_partition_by(parent, partitions_or_default(partitions), &id, &err));
}
wisp_rdd wisp_repartition(wisp_rdd parent, uint32_t partitions) {
    if (parent == WISP_NO_RDD) return WISP_NO_RDD;
    SHUFFLE(wisp_task_driver_repartition(parent, partitions_or_default(partitions), &id, &err));
}
wisp_rdd wisp_coalesce(wisp_rdd parent, uint32_t partitions) {
    if (parent == WISP_NO_RDD) return WISP_NO_RDD;
    SHUFFLE(wisp_task_driver_coalesce(parent, partitions_or_default(partitions), &id, &err));
}
wisp_rdd wisp_sample(wisp_rdd parent, bool with_replacement, double fraction, uint64_t seed) {
    if (parent == WISP_NO_RDD) return WISP_NO_RDD;
    SHUFFLE(wisp_task_driver_sample(parent, with_replacement, fraction, seed, &id, &err));
}

static int no_rdd(void) {
    const char *m = wisp_error();
    return m[0] != '\0' ? -1 : wisp_fail("invalid rdd handle (WISP_NO_RDD)");
}

int wisp_persist(wisp_rdd rdd, wisp_storage_level level) {
    if (rdd == WISP_NO_RDD) return no_rdd();
    job_string_t err;
    return wisp_task_driver_persist(rdd, (wisp_task_driver_storage_level_t)level, &err) ? 0 : host_error(&err);
}

int wisp_unpersist(wisp_rdd rdd) {
    if (rdd == WISP_NO_RDD) return no_rdd();
    job_string_t err;
    return wisp_task_driver_unpersist(rdd, &err) ? 0 : host_error(&err);
}

int wisp_num_partitions(wisp_rdd rdd, uint32_t *out) {
    if (rdd == WISP_NO_RDD) return no_rdd();
    job_string_t err;
    return wisp_task_driver_num_partitions(rdd, out, &err) ? 0 : host_error(&err);
}

int wisp_count(wisp_rdd rdd, uint64_t *out) {
    if (rdd == WISP_NO_RDD) return no_rdd();
    job_string_t err;
    return wisp_task_driver_count(rdd, out, &err) ? 0 : host_error(&err);
}

int wisp_collect(wisp_rdd rdd, wisp_batch *out) {
    if (rdd == WISP_NO_RDD) return no_rdd();
    job_string_t err;
    wisp_task_driver_batch_t b;
    if (!wisp_task_driver_collect(rdd, &b, &err)) return host_error(&err);
    *out = batch_from_wit(&b);
    return 0;
}

int wisp_take(wisp_rdd rdd, uint32_t n, wisp_batch *out) {
    if (rdd == WISP_NO_RDD) return no_rdd();
    job_string_t err;
    wisp_task_driver_batch_t b;
    if (!wisp_task_driver_take(rdd, n, &b, &err)) return host_error(&err);
    *out = batch_from_wit(&b);
    return 0;
}

int wisp_save_as_text_file(wisp_rdd rdd, const char *path) {
    if (rdd == WISP_NO_RDD) return no_rdd();
    job_string_t p = borrow_str(path), err;
    return wisp_task_driver_save_as_text_file(rdd, &p, &err) ? 0 : host_error(&err);
}

/* Runs one fold/reduce op over every partition; the partial results, in order. */
static int run_partitions(wisp_rdd rdd, wisp_op_kind kind, const char *name, wisp_bytes args,
                          wisp_task_driver_list_batch_t *out) {
    wisp_task_driver_op_t op = {(wisp_task_types_op_kind_t)kind, borrow_str(name), {(uint8_t *)args.ptr, args.len}};
    wisp_task_driver_list_op_t ops = {&op, 1};
    job_string_t err;
    if (!wisp_task_driver_run_partitions(rdd, &ops, 0, out, &err)) return host_error(&err);
    return 0;
}

static int combine_partials(wisp_reducer_fn f, wisp_task_driver_list_batch_t *parts, bool have_first,
                            wisp_buf *acc) {
    wisp_buf tmp = {0};
    int rc = 0;
    for (size_t i = 0; i < parts->len && rc == 0; i++) {
        wisp_batch b = batch_from_wit(&parts->ptr[i]);
        for (size_t j = 0; j < b.count && rc == 0; j++) {
            wisp_bytes v = wisp_batch_get(&b, j);
            if (!have_first) {
                wisp_put_raw(acc, v.ptr, v.len);
                have_first = true;
                continue;
            }
            wisp_buf_clear(&tmp);
            rc = f(wisp_buf_bytes(acc), v, &tmp);
            if (rc == 0) {
                wisp_buf_clear(acc);
                wisp_put_raw(acc, tmp.ptr, tmp.len);
            }
        }
    }
    wisp_buf_free(&tmp);
    wisp_task_driver_list_batch_free(parts);
    return rc != 0 ? -1 : (have_first ? 1 : 0);
}

int wisp_reduce(wisp_rdd rdd, wisp_reducer_fn f, wisp_buf *out, bool *found) {
    if (rdd == WISP_NO_RDD) return no_rdd();
    const char *name = name_of(WISP_FN_REDUCER, (const void *)f, "wisp_reduce");
    if (name == NULL) return -1;
    wisp_task_driver_list_batch_t parts;
    wisp_bytes none = {NULL, 0};
    if (run_partitions(rdd, WISP_OP_REDUCE, name, none, &parts) != 0) return -1;
    wisp_buf acc = {0};
    int rc = combine_partials(f, &parts, false, &acc);
    if (rc >= 0) wisp_put_raw(out, acc.ptr, acc.len);
    wisp_buf_free(&acc);
    *found = rc == 1;
    return rc < 0 ? -1 : 0;
}

int wisp_fold(wisp_rdd rdd, wisp_bytes zero, wisp_reducer_fn f, wisp_buf *out) {
    if (rdd == WISP_NO_RDD) return no_rdd();
    const char *name = name_of(WISP_FN_REDUCER, (const void *)f, "wisp_fold");
    if (name == NULL) return -1;
    wisp_task_driver_list_batch_t parts;
    if (run_partitions(rdd, WISP_OP_FOLD, name, zero, &parts) != 0) return -1;
    wisp_buf acc = {0};
    wisp_put_raw(&acc, zero.ptr, zero.len);
    int rc = combine_partials(f, &parts, true, &acc);
    if (rc >= 0) wisp_put_raw(out, acc.ptr, acc.len);
    wisp_buf_free(&acc);
    return rc < 0 ? -1 : 0;
}

/* ------------------------------------------------ for the SDK's other files */

job_string_t wisp__borrow_str(const char *s) { return borrow_str(s); }
int wisp__host_error(job_string_t *err) { return host_error(err); }
wisp_rdd wisp__rdd_result(bool ok, uint32_t id, job_string_t *err) { return rdd_result(ok, id, err); }
int wisp__no_rdd(void) { return no_rdd(); }
wisp_batch wisp__batch_from_wit(wisp_task_types_batch_t *in) { return batch_from_wit(in); }
const char *wisp__name_of(wisp_fn_kind kind, const void *f, const char *api) { return name_of(kind, f, api); }

int wisp__run_partitions(wisp_rdd rdd, const wisp_task_driver_op_t *ops, size_t n,
                         wisp_task_driver_list_batch_t *out) {
    if (rdd == WISP_NO_RDD) return no_rdd();
    wisp_task_driver_list_op_t list = {(wisp_task_driver_op_t *)ops, n};
    job_string_t err;
    if (!wisp_task_driver_run_partitions(rdd, &list, 0, out, &err)) return host_error(&err);
    return 0;
}

/* ================================================================ the main */

/* wasi-libc's exit-time cleanup without the exit: flushes stdio's buffers
 * when the job wrote to stdio, and does not link stdio (nor need the WASI
 * adapter) when it did not. A reactor never runs exit, so without it a job's
 * buffered printf output would be lost. */
void __wasm_call_dtors(void);

bool exports_job_run(job_list_string_t *args, job_string_t *err) {
    int argc = (int)args->len;
    char **argv = calloc((size_t)argc + 1, sizeof(char *));
    if (argv == NULL) abort();
    for (int i = 0; i < argc; i++) {
        argv[i] = malloc(args->ptr[i].len + 1);
        if (argv[i] == NULL) abort();
        memcpy(argv[i], args->ptr[i].ptr, args->ptr[i].len);
        argv[i][args->ptr[i].len] = '\0';
    }
    job_list_string_free(args);
    wisp_clear_error();
    int rc = wisp_main(argc, argv);
    __wasm_call_dtors();
    for (int i = 0; i < argc; i++) free(argv[i]);
    free(argv);
    if (rc == 0) return true;
    const char *m = wisp_error();
    if (m[0] != '\0')
        job_string_dup(err, m);
    else {
        char buf[64];
        snprintf(buf, sizeof buf, "wisp_main returned %d", rc);
        job_string_dup(err, buf);
    }
    return false;
}
