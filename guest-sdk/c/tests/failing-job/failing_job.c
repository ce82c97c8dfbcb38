/* A C job whose map function fails on one record, for the error tests.
 * Usage: wisp run failing.wasm MODE OUTPUT_DIR, MODE one of
 *   error  the function returns wisp_fail("record 7 is unlucky")
 *   trap   the function traps (wisp_panic("record 7 trapped"))
 *   main   the job's main fails before any job runs
 * Output (never complete): the numbers 0..19 doubled, as text lines. */
#include <stdio.h>
#include <string.h>

#include "wisp.h"

/* s64 -> string; fails or traps on 7, as the op's args say. */
static int explode(wisp_bytes rec, wisp_buf *out) {
    int64_t v;
    if (wisp_get_s64(rec, &v) != 0) return -1;
    if (v == 7) {
        wisp_bytes mode = wisp_op_args();
        if (mode.len == 4 && memcmp(mode.ptr, "trap", 4) == 0) wisp_panic("record %lld trapped", (long long)v);
        return wisp_fail("record %lld is unlucky", (long long)v);
    }
    char text[24];
    int n = snprintf(text, sizeof text, "%lld", (long long)(v * 2));
    wisp_put_raw(out, text, (size_t)n);
    return 0;
}

WISP_FUNCTIONS(WISP_MAP(explode));

int wisp_main(int argc, char **argv) {
    if (argc != 2) return wisp_fail("expected MODE OUTPUT_DIR, got %d arguments", argc);
    const char *mode = argv[0];
    if (strcmp(mode, "main") == 0) return wisp_fail("the main gave up on purpose");
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
    /* The op's args carry the mode to the executors' fresh instances. */
    wisp_rdd doubled = wisp_transform(numbers, WISP_OP_MAP, "explode", mode, strlen(mode), 0);
    return wisp_save_as_text_file(doubled, argv[1]);
}
