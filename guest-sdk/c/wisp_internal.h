/* Wisp C SDK: what wisp.c shares with the SDK's other files (wisp_shared.c,
 * wisp_more.c); not for jobs. Needs the generated bindings (job.h). */
#ifndef WISP_INTERNAL_H
#define WISP_INTERNAL_H

#include "job.h"
#include "wisp.h"

/* A partition function of the SDK itself (kind WISP_FN_SDK_STREAM, run as a
 * map-partitions op): `state_size` zeroed bytes per task; `begin` when the
 * task is created (wisp_op_args() and wisp_partition() are set), `record`
 * per record, `end` when the input ends, `drop` (optional) to free. */
typedef struct wisp__stream {
    size_t state_size;
    int (*begin)(void *state);
    int (*record)(void *state, wisp_bytes rec, wisp_emitter *out);
    int (*end)(void *state, wisp_emitter *out);
    void (*drop)(void *state);
} wisp__stream;

/* The SDK's own functions, found by name like the job's (names start with
 * "wisp.", which no C identifier does). Defined in wisp_more.c, which
 * build.sh links from an archive: only a job that calls one of its functions
 * pulls it in, so wisp.c refers to the table weakly (NULL otherwise). */
extern const wisp_function wisp__sdk_functions[] __attribute__((weak));
extern const size_t wisp__sdk_functions_len __attribute__((weak));

/* From wisp.c. */
job_string_t wisp__borrow_str(const char *s);
int wisp__host_error(job_string_t *err);
wisp_rdd wisp__rdd_result(bool ok, uint32_t id, job_string_t *err);
int wisp__no_rdd(void);
wisp_batch wisp__batch_from_wit(wisp_task_types_batch_t *in);
/* The registered name of f (a function pointer or aggregator), or NULL with the error set. */
const char *wisp__name_of(wisp_fn_kind kind, const void *f, const char *api);
/* A function of the job or the SDK by name, or NULL. */
const wisp_function *wisp__function_named(const uint8_t *name, size_t len);
/* Runs `ops` of this component over every partition; each partition's output, in order. */
int wisp__run_partitions(wisp_rdd rdd, const wisp_task_driver_op_t *ops, size_t n, wisp_task_driver_list_batch_t *out);

#endif /* WISP_INTERNAL_H */
