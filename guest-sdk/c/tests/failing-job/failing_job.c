/* A C job whose map function fails on one record: the task, then the job,
 * must fail with the function's message. With the argument `trap` the
 * function traps instead (wisp_panic), with `main` the main itself fails.
 * Usage: wisp run failing.wasm [trap|main] */
#include <string.h>

#include "wisp.h"

static int trap_mode;

/* s64 -> s64; fails (or traps) on 7. */
static int explode(wisp_bytes rec, wisp_buf *out) {
    int64_t v;
    if (wisp_get_s64(rec, &v) != 0) return -1;
    if (v == 7) {
        if (wisp_op_args().len == 1 && wisp_op_args().ptr[0] == 't') wisp_panic("record %lld trapped", (long long)v);
        return wisp_fail("record %lld is unlucky", (long long)v);
    }
    wisp_put_s64(out, v * 2);
    return 0;
}

WISP_FUNCTIONS(WISP_MAP(explode));

int wisp_main(int argc, char **argv) {
    trap_mode = argc > 0 && strcmp(argv[0], "trap") == 0;
    if (argc > 0 && strcmp(argv[0], "main") == 0) return wisp_fail("the main gave up on purpose");
    wisp_batch records = {0};
    wisp_buf b = {0};
    for (int64_t i = 0; i < 20; i++) {
        wisp_buf_clear(&b);
        wisp_put_s64(&b, i);
        wisp_batch_push(&records, b.ptr, b.len);
    }
    wisp_buf_free(&b);
    wisp_rdd numbers = wisp_parallelize(&records, 4);
    wisp_batch_free(&records);
    /* The op's args tell the executor's fresh instance which failure to produce. */
    wisp_rdd doubled = wisp_transform(numbers, WISP_OP_MAP, "explode", trap_mode ? "t" : "e", 1, 0);
    uint64_t n = 0;
    return wisp_count(doubled, &n);
}
