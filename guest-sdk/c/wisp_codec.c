/* Wisp C SDK: the record encodings of wit/task.wit, byte buffers and the
 * error message. Independent of the generated bindings, so it also
 * compiles natively (test/codec_test.c checks it against
 * wit/encoding-vectors.jsonl). */
#define WISP_CODEC_ONLY
#include "wisp.h"
#undef WISP_CODEC_ONLY

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ errors */

unsigned wisp__fail_count;
static char *error_message;
static size_t error_cap;

int wisp_fail(const char *fmt, ...) {
    wisp__fail_count++;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n + 1 > error_cap) {
        char *p = realloc(error_message, (size_t)n + 1);
        if (p == NULL) abort();
        error_message = p;
        error_cap = (size_t)n + 1;
    }
    va_start(ap, fmt);
    vsnprintf(error_message, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return -1;
}

_Noreturn void wisp_panic(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("c guest panicked: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
    va_end(ap);
    __builtin_trap();
}

const char *wisp_error(void) { return error_message != NULL ? error_message : ""; }

void wisp_clear_error(void) {
    if (error_message != NULL) error_message[0] = '\0';
}

/* ----------------------------------------------------------------- buffers */

wisp_bytes wisp_cstr(const char *s) {
    wisp_bytes r = {(const uint8_t *)s, strlen(s)};
    return r;
}

void wisp__buf_grow(wisp_buf *b, size_t extra) {
    if (b->cap - b->len >= extra) return;
    size_t want = b->len + extra;
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap < want) cap *= 2;
    uint8_t *p = realloc(b->ptr, cap);
    if (p == NULL) abort();
    b->ptr = p;
    b->cap = cap;
}

void wisp_buf_free(wisp_buf *b) {
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

/* ---------------------------------------------------------------- encoders */

static inline void put_be64(wisp_buf *b, uint64_t v) {
    wisp_buf_reserve(b, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(b->ptr + b->len, &v, 8);
    b->len += 8;
}

static inline void put_u32le(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Copies n bytes with fixed-size (overlapping) moves when n <= 16: on wasm a
 * variable-length memcpy is a call out of the guest (memory.copy). */
static inline void copy_small(uint8_t *dst, const uint8_t *src, size_t n) {
    if (n >= 8) {
        if (n <= 16) {
            uint64_t a, z;
            memcpy(&a, src, 8);
            memcpy(&z, src + n - 8, 8);
            memcpy(dst, &a, 8);
            memcpy(dst + n - 8, &z, 8);
        } else {
            memcpy(dst, src, n);
        }
    } else if (n >= 4) {
        uint32_t a, z;
        memcpy(&a, src, 4);
        memcpy(&z, src + n - 4, 4);
        memcpy(dst, &a, 4);
        memcpy(dst + n - 4, &z, 4);
    } else if (n > 0) {
        dst[0] = src[0];
        dst[n / 2] = src[n / 2];
        dst[n - 1] = src[n - 1];
    }
}

void wisp_put_raw(wisp_buf *b, const void *data, size_t len) {
    if (len == 0) return;
    wisp_buf_reserve(b, len);
    copy_small(b->ptr + b->len, data, len);
    b->len += len;
}

void wisp_put_str(wisp_buf *b, const char *s) { wisp_put_raw(b, s, strlen(s)); }

void wisp_put_s64(wisp_buf *b, int64_t v) { put_be64(b, wisp_s64_bits(v)); }

void wisp_put_u64(wisp_buf *b, uint64_t v) { put_be64(b, v); }

uint64_t wisp_f64_bits(double v) {
    uint64_t bits;
    memcpy(&bits, &v, 8);
    return (bits >> 63) ? ~bits : bits ^ 0x8000000000000000ull;
}

double wisp_f64_from_bits(uint64_t enc) {
    uint64_t bits = (enc >> 63) ? enc ^ 0x8000000000000000ull : ~enc;
    double v;
    memcpy(&v, &bits, 8);
    return v;
}

void wisp_put_f64(wisp_buf *b, double v) { put_be64(b, wisp_f64_bits(v)); }

void wisp_put_bool(wisp_buf *b, bool v) {
    uint8_t byte = v ? 1 : 0;
    wisp_put_raw(b, &byte, 1);
}

void wisp_put_none(wisp_buf *b) { wisp_put_bool(b, false); }

void wisp_put_some(wisp_buf *b) { wisp_put_bool(b, true); }

size_t wisp_put_field_begin(wisp_buf *b) {
    wisp_buf_reserve(b, 4);
    size_t mark = b->len;
    b->len += 4;
    return mark;
}

void wisp_put_field_end(wisp_buf *b, size_t mark) { put_u32le(b->ptr + mark, (uint32_t)(b->len - mark - 4)); }

void wisp_put_pair_key(wisp_buf *b, const void *key, size_t len) {
    wisp_buf_reserve(b, 4 + len);
    put_u32le(b->ptr + b->len, (uint32_t)len);
    copy_small(b->ptr + b->len + 4, key, len);
    b->len += 4 + len;
}

/* ---------------------------------------------------------------- decoders */

static inline uint64_t get_be64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint32_t get_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int wisp_get_s64(wisp_bytes in, int64_t *out) {
    if (in.len != 8) return wisp_fail("an s64 is 8 bytes, the record has %zu", in.len);
    *out = (int64_t)(get_be64(in.ptr) ^ 0x8000000000000000ull);
    return 0;
}

int wisp_get_u64(wisp_bytes in, uint64_t *out) {
    if (in.len != 8) return wisp_fail("a u64 is 8 bytes, the record has %zu", in.len);
    *out = get_be64(in.ptr);
    return 0;
}

int wisp_get_f64(wisp_bytes in, double *out) {
    if (in.len != 8) return wisp_fail("an f64 is 8 bytes, the record has %zu", in.len);
    *out = wisp_f64_from_bits(get_be64(in.ptr));
    return 0;
}

int wisp_get_bool(wisp_bytes in, bool *out) {
    if (in.len != 1 || in.ptr[0] > 1) return wisp_fail("a bool is one byte 0 or 1");
    *out = in.ptr[0] == 1;
    return 0;
}

int wisp_get_option(wisp_bytes in, bool *some, wisp_bytes *inner) {
    if (in.len == 0 || in.ptr[0] > 1) return wisp_fail("an option starts with a byte 0 or 1");
    *some = in.ptr[0] == 1;
    if (*some) {
        inner->ptr = in.ptr + 1;
        inner->len = in.len - 1;
    } else if (in.len != 1) {
        return wisp_fail("a none option is one byte, the record has %zu", in.len);
    } else {
        inner->ptr = in.ptr + 1;
        inner->len = 0;
    }
    return 0;
}

int wisp_next_field(wisp_bytes *cur, wisp_bytes *field) {
    if (cur->len < 4) return wisp_fail("truncated length prefix: %zu bytes left", cur->len);
    uint32_t n = get_u32le(cur->ptr);
    if ((size_t)n > cur->len - 4) return wisp_fail("length prefix %u runs past the record (%zu bytes left)", n, cur->len - 4);
    field->ptr = cur->ptr + 4;
    field->len = n;
    cur->ptr += 4 + (size_t)n;
    cur->len -= 4 + (size_t)n;
    return 0;
}

int wisp_split_pair(wisp_bytes in, wisp_bytes *key, wisp_bytes *value) {
    if (in.len < 4) return wisp_fail("not a pair: %zu bytes, less than the key's length prefix", in.len);
    uint32_t n = get_u32le(in.ptr);
    if ((size_t)n > in.len - 4) return wisp_fail("not a pair: key length %u runs past the record (%zu bytes)", n, in.len);
    key->ptr = in.ptr + 4;
    key->len = n;
    value->ptr = in.ptr + 4 + n;
    value->len = in.len - 4 - n;
    return 0;
}
