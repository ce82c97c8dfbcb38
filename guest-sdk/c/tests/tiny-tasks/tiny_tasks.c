/* Per-task overhead probe, the C twin of the Rust api-job's `tiny-tasks`:
 * N u64 records in N partitions, each through one map op, then a count.
 * Usage: wisp run tiny_tasks.wasm N (prints count=N) */
#include <stdio.h>
#include <stdlib.h>

#include "wisp.h"

/* u64 -> u64: x + 1. */
static int add_one(wisp_bytes rec, wisp_buf *out) {
    uint64_t x;
    if (wisp_get_u64(rec, &x) != 0) return -1;
    wisp_put_u64(out, x + 1);
    return 0;
}

WISP_FUNCTIONS(WISP_MAP(add_one));

int wisp_main(int argc, char **argv) {
    if (argc != 1) return wisp_fail("expected N, got %d arguments", argc);
    uint32_t n = (uint32_t)strtoul(argv[0], NULL, 10);
    if (n == 0) return wisp_fail("N must be a positive integer, got %s", argv[0]);
    wisp_batch records = {0};
    wisp_buf b = {0};
    for (uint64_t i = 0; i < n; i++) {
        wisp_buf_clear(&b);
        wisp_put_u64(&b, i);
        wisp_batch_push(&records, b.ptr, b.len);
    }
    wisp_buf_free(&b);
    wisp_rdd rdd = wisp_map(wisp_parallelize(&records, n), add_one);
    wisp_batch_free(&records);
    uint64_t count = 0;
    if (wisp_count(rdd, &count) != 0) return -1;
    printf("count=%llu\n", (unsigned long long)count);
    return 0;
}
