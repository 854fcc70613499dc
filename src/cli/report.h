/*
 * report.h — the figures `hetfl report` computes, one run at a time, for the
 * other commands (`hetfl reproduce`).  Names are the report's CSV column names
 * (final_accuracy, carbon_g, rounds_to_target, ...) and the strategies'
 * headline figures (final_accuracy_width_W, feddf_val_gain, ...).
 */
#ifndef HF_REPORT_H
#define HF_REPORT_H

typedef struct {
    long seed, variant;   /* root attributes (-1 when absent) */
    int complete;         /* status completed */
    char status[32];
    char commit[48];      /* root attributes git_commit ("" when absent) and git_dirty */
    int dirty;            /* git_dirty = yes: built with uncommitted changes */
} hf_report_info_t;

/* 1 when `name` is a figure the report knows; *to_target: a "to target" figure
 * (it needs a target accuracy). */
int hf_report_metric_valid(const char *name, int *to_target);
/* The known names, comma-separated (static buffer), for messages and help. */
const char *hf_report_metric_names(void);
/* Read PATH and compute the n named figures at target accuracy `target` into
 * vals (NaN: not available, or target not reached).  0, or HF_EINPUT/HF_ERUNTIME
 * with hf_errmsg() when the file cannot be read. */
int hf_report_values(const char *path, double target, const char *const *names, int n, double *vals,
                     hf_report_info_t *info);

#endif
