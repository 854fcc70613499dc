/*
 * fuzz_conf.c — libFuzzer harness for the suite parser (src/config/conf.c) and the
 * typed parameters derived from it (src/config/options.c): any input must end in 0 or
 * HF_EINPUT with a message, never a crash, a leak or undefined behaviour.
 * The input is parsed as a suite named "fuzz.conf" in the current directory;
 * the first byte, when it is a digit, selects a sweep variant (-1..8) so the
 * sweep code is exercised too.  Build and run: tests/fuzz/run.sh conf SECONDS.
 */
#include "conf.h"
#include "expect.h"
#include "hf_util.h"
#include "options.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int variant = -1;
    if (size > 0 && data[0] >= '0' && data[0] <= '9') {
        variant = data[0] - '1';   /* '0' → -1 (none), '1' → 0, ... */
        data++;
        size--;
    }
    hf_conf_t c;
    memset(&c, 0, sizeof c);
    int rc = hf_conf_load_mem(&c, (const char *)data, size, "fuzz.conf", hf_options_table(), NULL, 0, variant);
    if (rc == 0) {
        hf_params_t p;
        rc = hf_params_from_conf(&p, &c);
        char *d = hf_conf_dump(&c, 1);
        free(d);
        char desc[256];
        hf_conf_variant_desc(&c, 0, desc, sizeof desc);
        hf_expect_t *ex = NULL;  /* the [expect] claims (src/cli/expect.c) */
        int nex = 0;
        if (rc == 0) rc = hf_expect_parse(&c, hf_conf_nvariants(&c), &ex, &nex);
        free(ex);
    }
    if (rc != 0 && rc != HF_EINPUT) abort();      /* parse errors are input errors */
    if (rc != 0 && !hf_errmsg()[0]) abort();      /* ... and always say why */
    hf_conf_free(&c);
    hf_clearerr();
    return 0;
}
