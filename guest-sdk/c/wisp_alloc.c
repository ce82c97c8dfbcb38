/* Wisp C SDK: the guest's malloc. Replaces zig's wasi allocator, which
 * takes every block from memory.grow and so grows a fresh instance's memory
 * (one mprotect in the host per task) even when its initial memory is
 * unused. This one serves blocks from [__heap_base, end of memory) first and
 * grows memory only when that is exhausted.
 *
 * Single-threaded (a guest instance has one thread), power-of-two size
 * classes from 16 bytes, freed blocks kept on one free list per class, never
 * returned (an executor instance lives for one task). Each block has an
 * 8-byte header holding its class; payloads are 16-byte aligned. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __wasm__

extern unsigned char __heap_base;

#define MIN_SHIFT 4
#define CLASSES 32
#define PAGE 65536u
/* A block whose header holds this came from aligned_alloc with a large
 * alignment: never reused. */
#define UNFREEABLE 0xffu

typedef struct free_block {
    struct free_block *next;
} free_block;

static free_block *free_lists[CLASSES];
static uintptr_t bump, bump_end;

static inline unsigned class_of(size_t n) {
    if (n <= ((size_t)1 << MIN_SHIFT)) return 0;
    return (unsigned)(32 - __builtin_clz((unsigned)(n - 1))) - MIN_SHIFT;
}

/* `size` bytes from the bump region, growing memory if needed; NULL if not. */
static void *take(size_t size) {
    if (bump == 0) {
        /* Headers sit 8 bytes before 16-aligned payloads. */
        bump = (((uintptr_t)&__heap_base + 8 + 15) & ~(uintptr_t)15) - 8;
        bump_end = (uintptr_t)__builtin_wasm_memory_size(0) * PAGE;
    }
    if (size > bump_end - bump) {
        size_t need = size - (bump_end - bump);
        size_t pages = (need + PAGE - 1) / PAGE;
        if (pages < 16) pages = 16; /* grow 1 MiB at a time at least */
        if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) {
            pages = (need + PAGE - 1) / PAGE;
            if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return NULL;
        }
        bump_end += pages * PAGE;
    }
    void *p = (void *)bump;
    bump += size;
    return p;
}

void *malloc(size_t n) {
    if (n > ((size_t)1 << 30)) {
        errno = ENOMEM;
        return NULL;
    }
    unsigned c = class_of(n);
    free_block *f = free_lists[c];
    if (f != NULL) {
        free_lists[c] = f->next;
        return f;
    }
    size_t cap = (size_t)1 << (c + MIN_SHIFT);
    /* Header (8) + payload, keeping the next header 8 bytes before a 16-aligned payload. */
    size_t size = (8 + cap + 15) & ~(size_t)15;
    uint8_t *h = take(size);
    if (h == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    *(uint32_t *)h = c;
    return h + 8;
}

void free(void *p) {
    if (p == NULL) return;
    uint32_t c = *(uint32_t *)((uint8_t *)p - 8);
    if (c == UNFREEABLE) return;
    free_block *f = p;
    f->next = free_lists[c];
    free_lists[c] = f;
}

/* The usable bytes of a block (for an aligned block: the size asked for). */
static inline size_t capacity(void *p) {
    uint32_t *h = (uint32_t *)((uint8_t *)p - 8);
    return h[0] == UNFREEABLE ? h[1] : (size_t)1 << (h[0] + MIN_SHIFT);
}

void *realloc(void *p, size_t n) {
    if (p == NULL) return malloc(n);
    size_t cap = capacity(p);
    if (n <= cap && *(uint32_t *)((uint8_t *)p - 8) != UNFREEABLE) return p;
    void *q = malloc(n);
    if (q == NULL) return NULL;
    memcpy(q, p, cap < n ? cap : n);
    free(p);
    return q;
}

void *calloc(size_t count, size_t size) {
    if (size != 0 && count > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    size_t n = count * size;
    void *p = malloc(n);
    if (p != NULL) memset(p, 0, n);
    return p;
}

void *aligned_alloc(size_t align, size_t n) {
    if (align <= 16) return malloc(n);
    if ((align & (align - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    uint8_t *raw = take(n + align + 8);
    if (raw == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    uintptr_t payload = ((uintptr_t)raw + 8 + align - 1) & ~(uintptr_t)(align - 1);
    ((uint32_t *)(payload - 8))[0] = UNFREEABLE;
    ((uint32_t *)(payload - 8))[1] = (uint32_t)n;
    return (void *)payload;
}

int posix_memalign(void **out, size_t align, size_t n) {
    if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
    void *p = aligned_alloc(align, n);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}

size_t malloc_usable_size(void *p) { return p == NULL ? 0 : capacity(p); }

#endif /* __wasm__ */
