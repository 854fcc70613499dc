/*
 * fuzz_leaf.c — libFuzzer harness for the LEAF JSON reader (hf_leaf_parse in
 * kernels/data_leaf.c): malformed JSON must give HF_EINPUT and zeroed outputs,
 * never a crash; a successful parse must give a consistent data set and
 * partition (labels in range, offsets monotone).  tests/fuzz/run.sh leaf SECONDS.
 */
#include "data.h"
#include "hf_util.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hf_dataset_t d;
    hf_partition_t p;
    memset(&d, 0, sizeof d);
    memset(&p, 0, sizeof p);
    int rc = hf_leaf_parse((const char *)data, size, "fuzz.json", &d, &p);
    if (rc == 0) {
        if (p.nclients < 0 || !p.off || p.off[0] != 0) abort();
        for (int k = 0; k < p.nclients; k++)
            if (p.off[k + 1] < p.off[k]) abort();
        if (p.off[p.nclients] > d.n) abort();
        for (long i = 0; i < p.off[p.nclients]; i++)
            if (p.idx[i] < 0 || p.idx[i] >= d.n) abort();
        for (long i = 0; i < d.n; i++)
            if (d.y[i] < 0 || d.y[i] >= d.n_classes) abort();
    } else {
        if (rc != HF_EINPUT || !hf_errmsg()[0]) abort();
        if (d.x || d.y || p.off || p.idx) abort();   /* left zeroed on error */
    }
    hf_dataset_free(&d);
    hf_partition_free(&p);
    hf_clearerr();
    return 0;
}
