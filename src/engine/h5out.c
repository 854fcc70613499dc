/*
 * h5out.c — HDF5 results writer (rank 0, serial HDF5 API on the sec2 driver).
 *
 * Tables are 1-D chunked, extendible datasets of compound type; each append
 * extends the dataset and writes a hyperslab.  Every flush makes the file
 * consistent on disk (H5Fflush), so a job killed between rounds leaves a file
 * h5dump and h5py can read with every completed round in it.
 */
#include "h5out.h"
#include "hf_util.h"
#include "provenance.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const hf_outcome_names[HF_OUT_NCODES] = {
    "completed", "dropped_offline", "late", "over_budget", "overcommitted", "straggler",
    "partial", "backup"};

struct hf_h5out {
    hid_t file;
    char path[4096], tmp[4200];
    int renamed;
    int force;          /* --force: the final name may replace a file; else never */
    hid_t t_round, t_part, t_client, t_outcome;
    hid_t d_rounds, d_part;
    hsize_t n_rounds, n_part;
};

static hid_t make_outcome_type(void)
{
    hid_t t = H5Tenum_create(H5T_NATIVE_INT32);
    for (int32_t i = 0; i < HF_OUT_NCODES; i++) H5Tenum_insert(t, hf_outcome_names[i], &i);
    return t;
}

static hid_t make_round_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(hf_round_rec_t));
#define F(name, type) H5Tinsert(t, #name, offsetof(hf_round_rec_t, name), type)
    F(round, H5T_NATIVE_INT32);
    F(sim_time_s, H5T_NATIVE_DOUBLE);
    F(wall_time_s, H5T_NATIVE_DOUBLE);
    F(available, H5T_NATIVE_INT32);
    F(selected, H5T_NATIVE_INT32);
    F(completed, H5T_NATIVE_INT32);
    F(dropped, H5T_NATIVE_INT32);
    F(late, H5T_NATIVE_INT32);
    F(train_loss, H5T_NATIVE_DOUBLE);
    F(test_loss, H5T_NATIVE_DOUBLE);
    F(test_accuracy, H5T_NATIVE_DOUBLE);
    F(bytes_up, H5T_NATIVE_UINT64);
    F(bytes_down, H5T_NATIVE_UINT64);
    F(energy_j, H5T_NATIVE_DOUBLE);
    F(carbon_g, H5T_NATIVE_DOUBLE);
    F(consensus_distance, H5T_NATIVE_DOUBLE);
    F(wall_compute_s, H5T_NATIVE_DOUBLE);
    F(wall_agg_s, H5T_NATIVE_DOUBLE);
    F(wall_eval_s, H5T_NATIVE_DOUBLE);
    F(wall_io_s, H5T_NATIVE_DOUBLE);
    F(energy_j_measured, H5T_NATIVE_DOUBLE);
    F(dp_epsilon, H5T_NATIVE_DOUBLE);
    F(client_acc_mean, H5T_NATIVE_DOUBLE);
    F(client_acc_wmean, H5T_NATIVE_DOUBLE);
    F(client_acc_p10, H5T_NATIVE_DOUBLE);
    F(client_acc_min, H5T_NATIVE_DOUBLE);
#undef F
    return t;
}

static hid_t make_part_type(hid_t outcome)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(hf_part_rec_t));
#define F(name, type) H5Tinsert(t, #name, offsetof(hf_part_rec_t, name), type)
    F(round, H5T_NATIVE_INT32);
    F(client, H5T_NATIVE_INT32);
    F(outcome, outcome);
    F(steps, H5T_NATIVE_INT32);
    F(compute_s_model, H5T_NATIVE_DOUBLE);
    F(compute_s_measured, H5T_NATIVE_DOUBLE);
    F(comm_s, H5T_NATIVE_DOUBLE);
    F(energy_j, H5T_NATIVE_DOUBLE);
    F(local_loss, H5T_NATIVE_DOUBLE);
    F(width, H5T_NATIVE_DOUBLE);
    F(bytes_up, H5T_NATIVE_UINT64);
    F(carbon_g, H5T_NATIVE_DOUBLE);
    F(energy_j_measured, H5T_NATIVE_DOUBLE);
    F(staleness, H5T_NATIVE_INT32);
    F(samples_data, H5T_NATIVE_INT32);
    F(bytes_data, H5T_NATIVE_UINT64);
#undef F
    return t;
}

static hid_t make_client_type(void)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(hf_client_rec_t));
    hid_t s32 = H5Tcopy(H5T_C_S1);
    H5Tset_size(s32, 32);
    H5Tset_strpad(s32, H5T_STR_NULLTERM);
    H5Tset_cset(s32, H5T_CSET_UTF8);
    hid_t s16 = H5Tcopy(H5T_C_S1);
    H5Tset_size(s16, 16);
    H5Tset_strpad(s16, H5T_STR_NULLTERM);
    H5Tset_cset(s16, H5T_CSET_UTF8);
#define F(name, type) H5Tinsert(t, #name, offsetof(hf_client_rec_t, name), type)
    F(id, H5T_NATIVE_INT32);
    F(device_class, s32);
    F(samples, H5T_NATIVE_INT64);
    F(region, s16);
    F(energy_budget_j, H5T_NATIVE_DOUBLE);
    F(rank, H5T_NATIVE_INT32);
#undef F
    H5Tclose(s32);
    H5Tclose(s16);
    return t;
}

/* Column units and one-line descriptions, stored on each table as three aligned
 * string arrays (column_names, column_units, column_descriptions) plus a
 * description of the table: readable without the docs, e.g.
 *   pd.DataFrame({"units": d.attrs["column_units"], "meaning": d.attrs["column_descriptions"]},
 *                index=d.attrs["column_names"]).
 * "1" marks a dimensionless number, "" a label or identifier.  Full meanings:
 * docs/results.md. */
static const hf_col_doc_t round_cols[] = {
    {"round", "", "round number, from 1"},
    {"sim_time_s", "s", "simulated time at the end of the round"},
    {"wall_time_s", "s", "measured wall time of the round on rank 0 (not deterministic)"},
    {"available", "clients", "clients online at the round start"},
    {"selected", "clients", "clients selected"},
    {"completed", "clients", "selected clients whose update was kept"},
    {"dropped", "clients", "selected clients discarded for another reason than lateness"},
    {"late", "clients", "selected clients that missed the deadline"},
    {"train_loss", "nats", "sample-weighted mean local training loss of the kept clients"},
    {"test_loss", "nats", "test cross-entropy of the global model (NaN when not evaluated)"},
    {"test_accuracy", "1", "test accuracy of the global model, fraction (NaN when not evaluated)"},
    {"bytes_up", "bytes", "bytes uploaded by the round's clients"},
    {"bytes_down", "bytes", "bytes downloaded by the round's clients"},
    {"energy_j", "J", "modelled energy of the round's clients"},
    {"carbon_g", "gCO2e", "carbon of the round's energy"},
    {"consensus_distance", "1", "decentralized: mean squared distance of the client models to their mean (NaN otherwise)"},
    {"wall_compute_s", "s", "measured: local training on rank 0"},
    {"wall_agg_s", "s", "measured: aggregation on rank 0"},
    {"wall_eval_s", "s", "measured: evaluation"},
    {"wall_io_s", "s", "measured: writing the round's rows"},
    {"energy_j_measured", "J", "measured: RAPL energy of the ranks' training (NaN where unreadable)"},
    {"dp_epsilon", "1", "differential privacy: epsilon spent so far at dp.delta (NaN without a DP strategy)"},
    {"client_acc_mean", "1", "per-client evaluation: mean accuracy of the clients' own models on their "
                             "test splits (NaN when not evaluated or data.client_test_fraction = 0)"},
    {"client_acc_wmean", "1", "per-client evaluation: sample-weighted mean accuracy (correct / samples over "
                              "all splits)"},
    {"client_acc_p10", "1", "per-client evaluation: 10th percentile of the clients' accuracies (nearest rank: "
                            "the ceil(0.1 n)-th smallest)"},
    {"client_acc_min", "1", "per-client evaluation: the worst client's accuracy"},
    {NULL, NULL, NULL}};

static const hf_col_doc_t part_cols[] = {
    {"round", "", "round number"},
    {"client", "", "client id"},
    {"outcome", "", "what happened to the client's update (enum outcome_t; names in /outcome_names)"},
    {"steps", "steps", "local SGD steps done"},
    {"compute_s_model", "s", "simulated compute time"},
    {"compute_s_measured", "s", "measured wall time of the local training (not deterministic)"},
    {"comm_s", "s", "simulated download + upload time"},
    {"energy_j", "J", "modelled energy: compute + radio"},
    {"local_loss", "nats", "mean training loss over the local steps"},
    {"width", "1", "model width trained (1 = full model)"},
    {"bytes_up", "bytes", "bytes uploaded"},
    {"carbon_g", "gCO2e", "carbon of energy_j at the client's region and time"},
    {"energy_j_measured", "J", "measured: RAPL share of the hosting rank's training energy"},
    {"staleness", "versions", "async: server versions between the job's start and its arrival"},
    {"samples_data", "samples", "availability.transfer: samples received from an offline client"},
    {"bytes_data", "bytes", "their bytes"},
    {NULL, NULL, NULL}};

static const hf_col_doc_t client_cols[] = {
    {"id", "", "client id"},
    {"device_class", "", "device class name"},
    {"samples", "samples", "training samples of the client"},
    {"region", "", "carbon region"},
    {"energy_budget_j", "J", "energy budget (inf: unlimited)"},
    {"rank", "", "MPI rank hosting the client"},
    {NULL, NULL, NULL}};

static void str_array_attr(hid_t loc, const char *name, const char *const *v, int n)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hsize_t dims = (hsize_t)n;
    hid_t sp = H5Screate_simple(1, &dims, NULL);
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        H5Awrite(a, t, v);
        H5Aclose(a);
    }
    H5Sclose(sp);
    H5Tclose(t);
}

static int str_attr(hid_t loc, const char *name, const char *value);

void hf_h5out_describe(hid_t d, const char *what, const hf_col_doc_t *cols)
{
    const char *names[32], *units[32], *docs[32];
    int n = 0;
    for (; cols[n].name && n < 32; n++) {
        names[n] = cols[n].name;
        units[n] = cols[n].units;
        docs[n] = cols[n].doc;
    }
    str_attr(d, "description", what);
    str_array_attr(d, "column_names", names, n);
    str_array_attr(d, "column_units", units, n);
    str_array_attr(d, "column_descriptions", docs, n);
}

static hid_t make_table(hid_t loc, const char *name, hid_t type, hsize_t chunk)
{
    hsize_t dims = 0, maxd = H5S_UNLIMITED;
    hid_t sp = H5Screate_simple(1, &dims, &maxd);
    hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(pl, 1, &chunk);
    hid_t d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    H5Pclose(pl);
    H5Sclose(sp);
    return d;
}

static int append(hid_t d, hid_t type, hsize_t *count, const void *rows, hsize_t n)
{
    if (n == 0) return 0;
    hsize_t newn = *count + n;
    if (H5Dset_extent(d, &newn) < 0) return -1;
    hid_t fs = H5Dget_space(d);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, count, NULL, &n, NULL);
    hid_t ms = H5Screate_simple(1, &n, NULL);
    herr_t e = H5Dwrite(d, type, ms, fs, H5P_DEFAULT, rows);
    H5Sclose(ms);
    H5Sclose(fs);
    if (e < 0) return -1;
    *count = newn;
    return 0;
}

int hf_h5out_append_table(hid_t f, const char *name, hid_t type, const void *rows, int n,
                          const char *what, const hf_col_doc_t *cols)
{
    hid_t d;
    hsize_t cur = 0;
    if (H5Lexists(f, name, H5P_DEFAULT) > 0) {
        d = H5Dopen2(f, name, H5P_DEFAULT);
        hid_t sp = H5Dget_space(d);
        H5Sget_simple_extent_dims(sp, &cur, NULL);
        H5Sclose(sp);
    } else d = make_table(f, name, type, 64);
    /* described once: when created (or resumed from a file written before the attributes) */
    if (d >= 0 && cols && H5Aexists(d, "column_names") <= 0) hf_h5out_describe(d, what, cols);
    int rc = d < 0 || append(d, type, &cur, rows, (hsize_t)n) < 0;
    if (d >= 0) H5Dclose(d);
    return rc ? hf_seterr(HF_ERUNTIME, "writing /%s failed", name) : 0;
}

typedef struct {
    int32_t round;
    double width, test_accuracy, test_loss;
} width_rec_t;

static const hf_col_doc_t width_cols[] = {
    {"round", "", "round number"},
    {"width", "1", "model width: fraction of every hidden layer's units (1 = full model)"},
    {"test_accuracy", "1", "test accuracy of the model of that width, fraction (HeteroFL, FjORD: "
                           "a sub-model of the global one; FedDF: the group's model; dkt: the mean "
                           "model of the clients of that width)"},
    {"test_loss", "nats", "its mean test cross-entropy"},
    {NULL, NULL, NULL}};

int hf_h5out_width_rows(hid_t f, int round, int n, const double *width, const double *acc, const double *loss)
{
    width_rec_t *rows = hf_calloc((size_t)(n > 0 ? n : 1), sizeof *rows);
    for (int i = 0; i < n; i++)
        rows[i] = (width_rec_t){.round = round, .width = width[i], .test_accuracy = acc[i], .test_loss = loss[i]};
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(width_rec_t));
    H5Tinsert(t, "round", HOFFSET(width_rec_t, round), H5T_NATIVE_INT32);
    H5Tinsert(t, "width", HOFFSET(width_rec_t, width), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "test_accuracy", HOFFSET(width_rec_t, test_accuracy), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "test_loss", HOFFSET(width_rec_t, test_loss), H5T_NATIVE_DOUBLE);
    int rc = hf_h5out_append_table(f, "rounds_by_width", t, rows, n,
                                   "test accuracy and loss at every model width, one row per "
                                   "(evaluated round, width), widest first (docs/results.md)",
                                   width_cols);
    H5Tclose(t);
    free(rows);
    return rc;
}

int hf_h5out_open(hf_h5out_t **out, const char *path, int force)
{
    struct stat st;
    *out = NULL;
    if (!force && stat(path, &st) == 0)
        return hf_seterr(HF_EINPUT, "%s: results file exists; refusing to overwrite it\n"
                         "HINT: pass --force to replace it, or choose another path with -o",
                         path);
    /* the directory must exist and be writable */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0; else snprintf(dir, sizeof dir, ".");
    if (dir[0] && access(dir, W_OK) != 0)
        return hf_seterr(HF_EINPUT, "%s: cannot write results: directory '%s': %s", path, dir,
                         strerror(errno));
    hf_h5out_t *h = hf_calloc(1, sizeof *h);
    h->force = force;
    snprintf(h->path, sizeof h->path, "%s", path);
    snprintf(h->tmp, sizeof h->tmp, "%s.tmp-%ld", path, (long)getpid());
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    h->file = H5Fcreate(h->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hf_fail_unlink(h->tmp);  /* removed on a fatal error too (hf_util.h) */
    if (h->file < 0) {
        free(h);
        return hf_seterr(HF_ERUNTIME, "%s: cannot create the HDF5 file", path);
    }
    h->t_outcome = make_outcome_type();
    h->t_round = make_round_type();
    h->t_part = make_part_type(h->t_outcome);
    h->t_client = make_client_type();
    H5Tcommit2(h->file, "outcome_t", h->t_outcome, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    h->d_rounds = make_table(h->file, "rounds", h->t_round, 64);
    h->d_part = make_table(h->file, "participation", h->t_part, 1024);
    hf_h5out_describe(h->d_rounds, "one row per round (docs/results.md)", round_cols);
    hf_h5out_describe(h->d_part, "one row per (round, selected client) (docs/results.md)", part_cols);
    /* the outcome codes as plain strings too (index = code), for readers without enum support */
    {
        hsize_t no = HF_OUT_NCODES;
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, H5T_CSET_UTF8);
        hid_t sp = H5Screate_simple(1, &no, NULL);
        hid_t d = H5Dcreate2(h->file, "outcome_names", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (d >= 0) {
            H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, hf_outcome_names);
            str_attr(d, "description", "name of each outcome code of /participation.outcome (index = code)");
            H5Dclose(d);
        }
        H5Sclose(sp);
        H5Tclose(t);
        str_array_attr(h->d_part, "outcome_names", (const char *const *)hf_outcome_names, HF_OUT_NCODES);
    }
    hid_t g = H5Gcreate2(h->file, "system", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    g = H5Gcreate2(h->file, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    *out = h;
    /* build, libraries, input checksums, status = running (provenance.c) */
    return hf_prov_write(h->file, 0);
}

static int str_attr(hid_t loc, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = H5Awrite(a, t, &value);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return e < 0 ? hf_seterr(HF_ERUNTIME, "HDF5: cannot write attribute %s", name) : 0;
}

int hf_h5out_root_attr(hf_h5out_t *h, const char *name, const char *value)
{
    return str_attr(h->file, name, value);
}

int hf_h5out_root_attr_double(hf_h5out_t *h, const char *name, double value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    if (H5Aexists(h->file, name) > 0) H5Adelete(h->file, name);
    hid_t a = H5Acreate2(h->file, name, H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = H5Awrite(a, H5T_NATIVE_DOUBLE, &value);
    H5Aclose(a);
    H5Sclose(sp);
    return e < 0 ? hf_seterr(HF_ERUNTIME, "HDF5: cannot write attribute %s", name) : 0;
}

int hf_h5out_root_attr_int(hf_h5out_t *h, const char *name, long value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    if (H5Aexists(h->file, name) > 0) H5Adelete(h->file, name);
    hid_t a = H5Acreate2(h->file, name, H5T_NATIVE_LONG, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = H5Awrite(a, H5T_NATIVE_LONG, &value);
    H5Aclose(a);
    H5Sclose(sp);
    return e < 0 ? hf_seterr(HF_ERUNTIME, "HDF5: cannot write attribute %s", name) : 0;
}

/* /system attributes that hold a number are stored as numbers (integer or
 * double), whatever text the caller formatted them into. */
static int num_attr(hid_t loc, const char *name, const char *value)
{
    static const char *const numeric[] = {"model_params", "strategy_state_bytes", "spectral_gap",
                                          "cycle_time_s", NULL};
    int known = 0;
    for (int i = 0; numeric[i]; i++) known |= !strcmp(name, numeric[i]);
    if (!known || !value[0]) return 1;
    char *end;
    errno = 0;
    long long iv = strtoll(value, &end, 10);
    hid_t type, mem;
    const void *buf;
    double dv;
    if (!*end && !errno) {
        type = H5T_STD_I64LE; mem = H5T_NATIVE_LLONG; buf = &iv;
    } else {
        dv = strtod(value, &end);
        if (*end) return 1;
        type = H5T_IEEE_F64LE; mem = H5T_NATIVE_DOUBLE; buf = &dv;
    }
    if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, mem, buf);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return e < 0 ? hf_seterr(HF_ERUNTIME, "HDF5: cannot write attribute %s", name) : 0;
}

int hf_h5out_system_attr(hf_h5out_t *h, const char *name, const char *value)
{
    hid_t g = H5Gopen2(h->file, "system", H5P_DEFAULT);
    int rc = num_attr(g, name, value);
    if (rc == 1) rc = str_attr(g, name, value);
    H5Gclose(g);
    return rc;
}

int hf_h5out_config(hf_h5out_t *h, const char *text)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(h->file, "config", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text);
    H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    return e < 0 ? hf_seterr(HF_ERUNTIME, "HDF5: cannot write /config") : 0;
}

int hf_h5out_clients(hf_h5out_t *h, const hf_client_rec_t *c, long n)
{
    return hf_h5out_clients_by(h, n, NULL, (void *)c);
}

/* Blocks of HF_CLIENTS_BLOCK rows (a multiple of the 4,096-row chunk: the same
 * chunks as one write), each filled then written; fill NULL: ctx is the rows. */
#define HF_CLIENTS_BLOCK 65536L
int hf_h5out_clients_by(hf_h5out_t *h, long n, hf_client_fill_t fill, void *ctx)
{
    hsize_t dims = (hsize_t)n, chunk = n > 0 ? (hsize_t)HF_MIN(n, 4096) : 1;
    hid_t sp = H5Screate_simple(1, &dims, NULL);
    hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
    if (n > 0) {
        H5Pset_chunk(pl, 1, &chunk);
        H5Pset_deflate(pl, 4);
    }
    hid_t d = H5Dcreate2(h->file, "clients", h->t_client, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : 0;
    hf_client_rec_t *buf = fill ? hf_calloc((size_t)HF_MIN(HF_MAX(n, 1), HF_CLIENTS_BLOCK), sizeof *buf) : NULL;
    for (long k0 = 0; k0 < n && e >= 0; k0 += HF_CLIENTS_BLOCK) {
        hsize_t off = (hsize_t)k0, cnt = (hsize_t)HF_MIN(HF_CLIENTS_BLOCK, n - k0);
        if (fill) fill(ctx, k0, (long)cnt, buf);
        const hf_client_rec_t *rows = fill ? buf : (const hf_client_rec_t *)ctx + k0;
        hid_t ms = H5Screate_simple(1, &cnt, NULL);
        H5Sselect_hyperslab(sp, H5S_SELECT_SET, &off, NULL, &cnt, NULL);
        e = H5Dwrite(d, h->t_client, ms, sp, H5P_DEFAULT, rows);
        H5Sclose(ms);
    }
    free(buf);
    if (d >= 0) hf_h5out_describe(d, "one row per client (docs/results.md)", client_cols);
    H5Pclose(pl);
    H5Dclose(d);
    H5Sclose(sp);
    return e < 0 ? hf_seterr(HF_ERUNTIME, "HDF5: cannot write /clients") : 0;
}

int hf_h5out_round(hf_h5out_t *h, const hf_round_rec_t *r)
{
    if (append(h->d_rounds, h->t_round, &h->n_rounds, r, 1) < 0)
        return hf_seterr(HF_ERUNTIME, "HDF5: cannot append to /rounds");
    return 0;
}

int hf_h5out_participation(hf_h5out_t *h, const hf_part_rec_t *p, long n)
{
    if (append(h->d_part, h->t_part, &h->n_part, p, (hsize_t)n) < 0)
        return hf_seterr(HF_ERUNTIME, "HDF5: cannot append to /participation");
    return 0;
}

/* Overwrite the tensors of an existing model group in place (same names and
 * shapes, contiguous, allocated at creation): raw data writes only, no HDF5
 * metadata changes, so a kill at any write leaves a readable file.  1 when
 * the group is not there (or does not match), 0 done, -1 write error. */
static int model_overwrite(hid_t file, const char *group, const hf_model_t *m, const float *params)
{
    if (H5Lexists(file, group, H5P_DEFAULT) <= 0) return 1;
    hid_t g = H5Gopen2(file, group, H5P_DEFAULT);
    if (g < 0) return 1;
    int rc = 0;
    for (int i = 0; i < m->ntensors && rc == 0; i++) {
        const hf_tensor_t *t = &m->tensors[i];
        char name[48];
        snprintf(name, sizeof name, "%02d_%s", i, t->name);
        hid_t d = H5Lexists(g, name, H5P_DEFAULT) > 0 ? H5Dopen2(g, name, H5P_DEFAULT) : -1;
        if (d < 0) { rc = 1; break; }
        hsize_t dims[4] = {0};
        hid_t sp = H5Dget_space(d);
        int nd = H5Sget_simple_extent_dims(sp, dims, NULL);
        H5Sclose(sp);
        int same = nd == t->ndim;
        for (int k = 0; same && k < t->ndim; k++) same = dims[k] == (hsize_t)t->shape[k];
        if (!same) rc = 1;
        else if (H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, params + t->off) < 0) rc = -1;
        H5Dclose(d);
    }
    H5Gclose(g);
    return rc;
}

int hf_h5out_model(hf_h5out_t *h, const char *group, const hf_model_t *m, const float *params)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int ow = model_overwrite(h->file, group, m, params);  /* made at the file's creation: in place */
    if (ow == 0) return 0;
    if (ow < 0) return hf_seterr(HF_ERUNTIME, "HDF5: cannot write %s", group);
    if (H5Lexists(h->file, group, H5P_DEFAULT) > 0) H5Ldelete(h->file, group, H5P_DEFAULT);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(h->file, group, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (g < 0) return hf_seterr(HF_ERUNTIME, "HDF5: cannot create %s", group);
    herr_t e = 0;
    for (int i = 0; i < m->ntensors; i++) {
        const hf_tensor_t *t = &m->tensors[i];
        hsize_t dims[4];
        for (int k = 0; k < t->ndim; k++) dims[k] = (hsize_t)t->shape[k];
        hid_t sp = H5Screate_simple(t->ndim, dims, NULL);
        char name[48];
        snprintf(name, sizeof name, "%02d_%s", i, t->name);
        hid_t pl = H5Pcreate(H5P_DATASET_CREATE);  /* storage now: later writes are in place */
        H5Pset_alloc_time(pl, H5D_ALLOC_TIME_EARLY);
        hid_t d = H5Dcreate2(g, name, H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
        H5Pclose(pl);
        e |= H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, params + t->off);
        str_attr(d, "layer", t->name);
        H5Dclose(d);
        H5Sclose(sp);
    }
    H5Gclose(g);
    return e < 0 ? hf_seterr(HF_ERUNTIME, "HDF5: cannot write %s", group) : 0;
}

/* The temporary file under its final name.  Without --force the name is
 * never taken from a file that appeared since the run started (another run
 * with the same -o, say): renameat2(RENAME_NOREPLACE), or link()+unlink()
 * where the file system lacks it; either fails with EEXIST, atomically. */
static int publish(hf_h5out_t *h)
{
    if (h->force) {
        if (rename(h->tmp, h->path) == 0) return 0;
    } else {
#ifdef RENAME_NOREPLACE
        if (renameat2(AT_FDCWD, h->tmp, AT_FDCWD, h->path, RENAME_NOREPLACE) == 0) return 0;
        if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP)
#endif
        {
            if (link(h->tmp, h->path) == 0) {
                unlink(h->tmp);
                return 0;
            }
        }
    }
    if (errno == EEXIST)
        return hf_seterr(HF_EINPUT, "%s: results file appeared while this run was writing it (another run "
                         "with the same output?); refusing to overwrite it\n"
                         "HINT: give each run its own -o, or pass --force to replace the file", h->path);
    return hf_seterr(HF_ERUNTIME, "%s: cannot rename to %s: %s", h->tmp, h->path, strerror(errno));
}

/* Set once HDF5 failed to write a file out (disk full, quota, I/O error):
 * the HDF5 1.10 library is then left holding a half-closed file that makes
 * its own shutdown (at MPI_Finalize or exit) crash, so main() ends the process
 * without it (hf_h5out_wedged). */
static int wedged;
int hf_h5out_wedged(void) { return wedged; }

/* "No space left on device" and the like, for a failed HDF5 write. */
static const char *io_reason(int e)
{
    return e ? strerror(e) : "I/O error";
}

int hf_h5out_flush(hf_h5out_t *h)
{
    errno = 0;
    if (H5Fflush(h->file, H5F_SCOPE_GLOBAL) < 0) {
        int e = errno;
        wedged = 1;
        return hf_seterr(HF_ERUNTIME, "%s: cannot write the results file: %s%s", h->renamed ? h->path : h->tmp,
                         io_reason(e), h->renamed ? "; it holds the rounds up to its last checkpoint" : "");
    }
    if (!h->renamed) {
        int rc = publish(h);
        if (rc) return rc;
        h->renamed = 1;
        hf_fail_unlink(NULL);
    }
    return 0;
}

int hf_h5out_close(hf_h5out_t *h, int keep)
{
    if (!h) return 0;
    H5Dclose(h->d_rounds);
    H5Dclose(h->d_part);
    H5Tclose(h->t_round);
    H5Tclose(h->t_part);
    H5Tclose(h->t_client);
    H5Tclose(h->t_outcome);
    errno = 0;
    herr_t e = H5Fclose(h->file);
    int rc = 0, err = errno;
    if (e < 0) wedged = 1;
    char path_of[4200];
    snprintf(path_of, sizeof path_of, "%s", h->renamed ? h->path : h->tmp);
    if (!h->renamed) {  /* no temporary file is ever left behind */
        if (!(keep && e >= 0 && (rc = publish(h)) == 0)) unlink(h->tmp);
        hf_fail_unlink(NULL);
    }
    free(h);
    return rc ? rc : (e < 0 ? hf_seterr(HF_ERUNTIME, "%s: cannot close the results file: %s", path_of,
                                        io_reason(err)) : 0);
}

const char *hf_h5out_path(const hf_h5out_t *h) { return h->path; }

hid_t hf_h5out_file(const hf_h5out_t *h) { return h->file; }

void hf_h5out_rows(const hf_h5out_t *h, long *nrounds, long *npart)
{
    *nrounds = (long)h->n_rounds;
    *npart = (long)h->n_part;
}

static hsize_t table_rows(hid_t d)
{
    hsize_t n = 0;
    hid_t sp = H5Dget_space(d);
    H5Sget_simple_extent_dims(sp, &n, NULL);
    H5Sclose(sp);
    return n;
}

int hf_h5out_reopen(hf_h5out_t **out, const char *path)
{
    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    char why[256];
    int fd = hf_input_open_why(path, 0, why, sizeof why);  /* regular files only: never a FIFO (hf_util.h) */
    if (fd < 0) return hf_seterr(HF_EINPUT, "%s: cannot resume: %s", path, why);
    close(fd);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return hf_seterr(HF_EINPUT, "%s: cannot resume: not a writable HDF5 file", path);
    hf_h5out_t *h = hf_calloc(1, sizeof *h);
    h->file = f;
    snprintf(h->path, sizeof h->path, "%s", path);
    snprintf(h->tmp, sizeof h->tmp, "%s", path);
    h->renamed = 1;
    h->t_outcome = make_outcome_type();
    h->t_round = make_round_type();
    h->t_part = make_part_type(h->t_outcome);
    h->t_client = make_client_type();
    h->d_rounds = H5Dopen2(f, "rounds", H5P_DEFAULT);
    h->d_part = H5Dopen2(f, "participation", H5P_DEFAULT);
    if (h->d_rounds < 0 || h->d_part < 0) {
        hf_h5out_close(h, 1);
        return hf_seterr(HF_EINPUT, "%s: cannot resume: not a hetfl results file (no /rounds or "
                         "/participation)", path);
    }
    h->n_rounds = table_rows(h->d_rounds);
    h->n_part = table_rows(h->d_part);
    *out = h;
    return hf_prov_write(h->file, 1);  /* status back to running (provenance.c) */
}

int hf_h5_round_table(hid_t f, const char *name)
{
    if (!strcmp(name, "rounds") || !strcmp(name, "participation")) return 0;
    H5O_info_t oi;
    if (H5Oget_info_by_name(f, name, &oi, H5P_DEFAULT) < 0 || oi.type != H5O_TYPE_DATASET) return 0;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT), t = d < 0 ? -1 : H5Dget_type(d);
    int yes = 0;
    if (t >= 0 && H5Tget_class(t) == H5T_COMPOUND && H5Tget_nmembers(t) > 0) {
        char *m0 = H5Tget_member_name(t, 0);
        hid_t sp = H5Dget_space(d);
        yes = m0 && !strcmp(m0, "round") && H5Tget_member_class(t, 0) == H5T_INTEGER &&
              H5Sget_simple_extent_ndims(sp) == 1;
        H5Sclose(sp);
        H5free_memory(m0);
    }
    if (t >= 0) H5Tclose(t);
    if (d >= 0) H5Dclose(d);
    return yes;
}

/* Keep the rows of round table `name` up to round `last` (rows are appended in
 * round order): the rows of rounds after a checkpoint are rolled back with it. */
static herr_t truncate_round_table(hid_t f, const char *name, const H5L_info_t *li, void *arg)
{
    (void)li;
    if (!hf_h5_round_table(f, name)) return 0;
    int last = *(const int *)arg;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT), sp = H5Dget_space(d);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(sp, &n, NULL);
    H5Sclose(sp);
    int32_t *r = hf_calloc(n ? n : 1, sizeof *r);
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(int32_t));
    H5Tinsert(t, "round", 0, H5T_NATIVE_INT32);
    herr_t e = n ? H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, r) : 0;
    hsize_t keep = 0;
    while (keep < n && r[keep] <= last) keep++;
    if (e >= 0 && keep < n) e = H5Dset_extent(d, &keep);
    H5Tclose(t);
    free(r);
    H5Dclose(d);
    return e < 0 ? -1 : 0;
}

int hf_h5out_truncate(hf_h5out_t *h, long nrounds, long npart)
{
    hsize_t a = (hsize_t)nrounds, b = (hsize_t)npart;
    if (a > h->n_rounds || b > h->n_part || H5Dset_extent(h->d_rounds, &a) < 0 ||
        H5Dset_extent(h->d_part, &b) < 0)
        return hf_seterr(HF_EINPUT, "%s: cannot roll the tables back to %ld rounds / %ld "
                         "participation rows (the file has %ld / %ld)", h->path, nrounds, npart,
                         (long)h->n_rounds, (long)h->n_part);
    h->n_rounds = a;
    h->n_part = b;
    /* the other round tables (/rounds_by_width, /feddf, /privacy, ...): up to the
     * last round /rounds keeps */
    int last = 0;
    if (a > 0) {
        hid_t fs = H5Dget_space(h->d_rounds), ms, t = H5Tcreate(H5T_COMPOUND, sizeof(int32_t));
        hsize_t at = a - 1, one = 1;
        H5Tinsert(t, "round", 0, H5T_NATIVE_INT32);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &one, NULL);
        ms = H5Screate_simple(1, &one, NULL);
        herr_t e = H5Dread(h->d_rounds, t, ms, fs, H5P_DEFAULT, &last);
        H5Sclose(ms);
        H5Sclose(fs);
        H5Tclose(t);
        if (e < 0) return hf_seterr(HF_EINPUT, "%s: cannot read /rounds", h->path);
    }
    if (H5Literate(h->file, H5_INDEX_NAME, H5_ITER_INC, NULL, truncate_round_table, &last) < 0)
        return hf_seterr(HF_EINPUT, "%s: cannot roll the round tables back to round %d", h->path, last);
    return 0;
}

/* ---------------------------------------------------------------- reading --- */

/* fill: a row copied into every row before the read (columns an older file lacks
 * keep its values), NULL: zeros */
static int read_table(hid_t f, const char *name, hid_t type, size_t recsize, void **buf, long *n,
                      const void *fill)
{
    *buf = NULL;
    *n = 0;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t sp = H5Dget_space(d);
    hsize_t dims = 0;
    H5Sget_simple_extent_dims(sp, &dims, NULL);
    *buf = hf_calloc(dims ? dims : 1, recsize);
    for (hsize_t i = 0; fill && i < dims; i++) memcpy((char *)*buf + i * recsize, fill, recsize);
    herr_t e = dims ? H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, *buf) : 0;
    H5Sclose(sp);
    H5Dclose(d);
    *n = (long)dims;
    return e < 0 ? -1 : 0;
}

int hf_h5in_open(hf_h5in_t *in, const char *path)
{
    memset(in, 0, sizeof *in);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (hf_input_check(path, 0)) return HF_EINPUT;  /* regular files only (hf_util.h) */
    in->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (in->file < 0) return hf_seterr(HF_EINPUT, "%s: not a readable HDF5 results file", path);
    hid_t to = make_outcome_type(), tr = make_round_type(), tp = make_part_type(to);
    /* files written before the per-client evaluation columns existed: NaN, "not evaluated" */
    hf_round_rec_t fill;
    memset(&fill, 0, sizeof fill);
    fill.client_acc_mean = fill.client_acc_wmean = fill.client_acc_p10 = fill.client_acc_min = NAN;
    int bad = read_table(in->file, "rounds", tr, sizeof(hf_round_rec_t), (void **)&in->rounds,
                         &in->nrounds, &fill);
    bad |= read_table(in->file, "participation", tp, sizeof(hf_part_rec_t), (void **)&in->part,
                      &in->npart, NULL);
    H5Tclose(tp); H5Tclose(tr); H5Tclose(to);
    hid_t d = H5Dopen2(in->file, "config", H5P_DEFAULT);
    if (d >= 0) {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, H5T_CSET_UTF8);
        char *s = NULL;
        if (H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s) >= 0 && s) {
            in->config = hf_strdup(s);
            H5free_memory(s);
        }
        H5Tclose(t);
        H5Dclose(d);
    }
    if (bad || !in->config) {
        hf_h5in_close(in);
        return hf_seterr(HF_EINPUT, "%s: not a hetfl results file (missing /rounds, /participation or "
                         "/config)", path);
    }
    return 0;
}

void hf_h5in_close(hf_h5in_t *in)
{
    if (in->file >= 0) H5Fclose(in->file);
    free(in->rounds);
    free(in->part);
    free(in->config);
    memset(in, 0, sizeof *in);
    in->file = -1;
}
