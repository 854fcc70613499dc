/*
 * fuzz_avail.c — libFuzzer harness for the availability trace parser
 * (hf_avail_load_mem in src/system/avail.c: CSV "client,start_s,end_s" with "#"
 * headers).  Any input → 0 or HF_EINPUT with a message, never a crash.  The
 * first byte, when a digit, fixes the expected client count (0: from the
 * trace).  tests/fuzz/run.sh avail SECONDS.
 */
#include "avail.h"
#include "hf_util.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int nclients = 0;
    if (size > 0 && data[0] >= '0' && data[0] <= '9') {
        nclients = (data[0] - '0') * 3;
        data++;
        size--;
    }
    hf_avail_t av;
    memset(&av, 0, sizeof av);
    int rc = hf_avail_load_mem(&av, (const char *)data, size, "fuzz.csv", nclients);
    if (rc != 0 && (rc != HF_EINPUT || !hf_errmsg()[0])) abort();
    if (rc == 0) hf_avail_free(&av);
    hf_clearerr();
    return 0;
}
