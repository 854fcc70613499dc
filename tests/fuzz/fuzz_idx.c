/*
 * fuzz_idx.c — libFuzzer harness for the IDX readers (hf_idx_parse_images and
 * hf_idx_parse_labels in kernels/data_idx.c).  The first byte picks the reader
 * (even: images then labels on the same data set, odd: labels then images), so
 * the "n must match" cross-check runs too.  Wrong magic, truncated payloads,
 * absurd dimensions → HF_EINPUT, never a crash.  tests/fuzz/run.sh idx SECONDS.
 */
#include "data.h"
#include "hf_util.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_rc(int rc)
{
    if (rc != 0 && (rc != HF_EINPUT || !hf_errmsg()[0])) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int order = data[0] & 1;
    data++;
    size--;
    /* split the rest in two halves: one per reader */
    size_t h = size / 2;
    hf_dataset_t d;
    memset(&d, 0, sizeof d);
    int rc;
    if (!order) {
        rc = hf_idx_parse_images(data, h, "fuzz-images", &d);
        check_rc(rc);
        rc = hf_idx_parse_labels(data + h, size - h, "fuzz-labels", &d);
        check_rc(rc);
    } else {
        rc = hf_idx_parse_labels(data, h, "fuzz-labels", &d);
        check_rc(rc);
        rc = hf_idx_parse_images(data + h, size - h, "fuzz-images", &d);
        check_rc(rc);
    }
    if (d.y)
        for (long i = 0; i < d.n; i++)
            if (d.y[i] < 0 || d.y[i] >= d.n_classes) abort();
    hf_dataset_free(&d);
    hf_clearerr();
    return 0;
}
