/*
 * data_load.h — load the run's training and test sets and partition the
 * training set over the clients (every rank does the same, from the seed).
 */
#ifndef HF_DATA_LOAD_H
#define HF_DATA_LOAD_H
#include "conf.h"
#include "data.h"
#include "options.h"

/* The data sets data.dataset names, for `hetfl list` (NULL-terminated). */
typedef struct { const char *name, *doc; } hf_dsinfo_t;
extern const hf_dsinfo_t hf_datasets[];
/* After a loader's "cannot open" error: append a HINT saying where data set ds
 * comes from (docs/data.md). */
void hf_data_hint(hf_dsname_t ds);

/* Loads train/test per the data.* keys and partitions train into p->clients
 * clients; *train_all = training samples loaded before data.train_samples cut
 * them (FedDF's server set lies beyond).  Errors: HF_EINPUT "FILE:LINE: key
 * 'x': reason" (suite names the file when no key has an origin). */
/* With data.on_demand (iid, dirichlet) the training set is loaded (and cut
 * to data.train_samples) but not partitioned: *part is left zeroed. */
/* With data.client_test_natural, *test_part is the test file's per-user
 * partition of test (client k: its k-th user), else left zeroed. */
int hf_load_data(const hf_params_t *p, const hf_conf_t *c, const char *suite, hf_dataset_t *train,
                 hf_dataset_t *test, hf_partition_t *part, long *train_all, hf_partition_t *test_part);
#endif
