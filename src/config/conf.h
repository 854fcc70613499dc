/*
 * conf.h — suite files: parsing, includes, ${VAR}, --set overrides, [sweep]
 * variants, and validation against an options table.
 *
 * Suite syntax (INI-like):
 *     # comment            (also after a value: "rounds = 50  # fifty")
 *     include = base.conf  (path relative to the including file; loops are errors)
 *     [section]
 *     key = value          (${VAR} and ${VAR:-default} expand from the environment)
 *     [sweep]
 *     section.key = v1 | v2 | v3
 *     [expect]
 *     name = METRIC: v1 <= 0.8 * v0      (what the suite claims; src/cli/expect.h)
 * Later settings override earlier ones (an include's settings are overridden
 * by what follows it); a key set twice in the same file is an error.
 * Sweep: the variants are the cartesian product of the [sweep] lists, the
 * first listed key varying slowest; variant numbers start at 0.
 * Precedence: defaults < suite (+includes) < sweep variant < --set overrides.
 * Errors: HF_EINPUT, message "FILE:LINE: key 'x': reason" (with "did you mean
 * 'y'?" for near-misses), through hf_seterr().
 *
 * Details (conf.c):
 *   - Section names are [a-z0-9_-]; a section may be reopened.  Keys before
 *     the first [section] are errors (include = excepted).  include = may
 *     appear anywhere and does not change the includer's current section;
 *     nesting is limited to 16 levels.
 *   - '#' starts a comment at the start of a line, or in a value when it is
 *     the first character or follows a space/tab ("name = run#1" keeps '#').
 *   - CRLF line ends and a UTF-8 byte-order mark are accepted; a NUL byte,
 *     invalid UTF-8, or a line over 64 KiB is an error; files are read whole
 *     (at most 16 MiB).
 *   - ${NAME:-default} takes the default when NAME is unset or empty; "$$" is
 *     a literal '$' (hf_conf_dump writes it so); a '$' not followed by '{' or
 *     '$' is literal.  --set values are expanded the same way.
 *   - Values are trimmed.  A final value (after expansion, from a file or from
 *     --set) must be valid UTF-8 without control characters (tab allowed) and
 *     without a '#' that would read as a comment, so that every configuration
 *     can be written back by hf_conf_dump and read again.
 *   - Normalised forms: INT "%ld"; FLOAT the shortest "%g" text that reads
 *     back exactly (1e-3 -> 0.001; nan/inf rejected); BOOL "yes"/"no";
 *     INTLIST "1,2,3"; PATH absolute and lexically normalised (a relative
 *     value from a file is joined with that file's directory, from --set or
 *     a table default with the current directory; "" stays "").
 *   - A [sweep] key is listed once in all files; its values are "|"-separated
 *     and validated like ordinary values.  A key may be both set normally and
 *     swept: the variant's value wins.  At most 1,000,000 variants.
 *   - [expect] lines are kept as text (name, claim, FILE:LINE) for
 *     src/cli/expect.c; they never change a run's configuration.  A name is
 *     listed once in all files.
 *   - Variant -1 applies no sweep values: swept keys keep their ordinary
 *     (suite or default) value.  Without a [sweep], only -1 and 0 are valid.
 *   - Table bugs (bad key, invalid default) are reported as HF_ERUNTIME
 *     "options table: ..." rather than crashing.
 */
#ifndef HF_CONF_H
#define HF_CONF_H
#include <stdio.h>

typedef enum {
    HF_OPT_INT,      /* integer; range [min,max] when min <= max */
    HF_OPT_FLOAT,    /* double; range [min,max] when min <= max */
    HF_OPT_BOOL,     /* yes/no, true/false, on/off, 1/0 (stored normalised to yes/no) */
    HF_OPT_STRING,   /* free text */
    HF_OPT_CHOICE,   /* one of choices ("a|b|c") */
    HF_OPT_INTLIST,  /* comma-separated integers, each within [min,max] */
    HF_OPT_PATH      /* file path; relative paths are resolved against the directory of
                      * the suite file that set them (stored absolute); "" = unset */
} hf_opt_type_t;

typedef struct {
    const char *key;      /* "section.key" */
    hf_opt_type_t type;
    const char *def;      /* default as text ("" = empty/unset) */
    double min, max;      /* numeric range, inclusive; ignored when min > max */
    const char *choices;  /* HF_OPT_CHOICE: "a|b|c" */
    const char *doc;      /* one-line description for --help / hetfl help keys */
} hf_opt_t;
#define HF_OPT_NORANGE 1, 0  /* min > max: an option without a numeric range */

typedef struct {
    char *key;            /* "section.key" */
    char *value;          /* final, normalised text value */
    char *origin;         /* "FILE:LINE", "default", "--set", or "sweep FILE:LINE" */
} hf_conf_entry_t;

typedef struct {
    char *key;
    char **values;
    int nvalues;
    char *origin;         /* "FILE:LINE" of the sweep line */
} hf_sweep_t;

typedef struct {
    char *path;                 /* the top-level suite file */
    const hf_opt_t *table;      /* options table it was validated against */
    int n;
    hf_conf_entry_t *e;         /* one entry per option of the table, table order */
    int nsweep;
    hf_sweep_t *sweep;
    int variant;                /* applied variant, -1 when none */
    int nexpect;
    hf_conf_entry_t *expect;    /* [expect] lines: key = name, value = claim text, origin */
} hf_conf_t;

/* Parse `path` against `table` (terminated by an entry with key == NULL),
 * apply sweep variant `variant` (-1: none; must be -1 or 0 when there is no
 * sweep) and the "section.key=value" overrides, fill defaults, validate.
 * Returns 0, or HF_EINPUT with the message in hf_errmsg(). */
int hf_conf_load(hf_conf_t *c, const char *path, const hf_opt_t *table,
                 char *const *overrides, int noverrides, int variant);
void hf_conf_free(hf_conf_t *c);   /* safe on a zeroed or failed hf_conf_t */

/* hf_conf_load from text in memory, e.g. for a fuzzer.  `name` (NULL:
 * "<string>") is used in messages and as if it were the file's path: includes
 * and relative PATH values resolve against its directory.  hf_conf_load_mem
 * takes a length (the text may hold NUL bytes, which are reported as errors). */
int hf_conf_load_string(hf_conf_t *c, const char *text, const char *name, const hf_opt_t *table,
                        char *const *overrides, int noverrides, int variant);
int hf_conf_load_mem(hf_conf_t *c, const char *data, size_t len, const char *name,
                     const hf_opt_t *table, char *const *overrides, int noverrides, int variant);

int hf_conf_nvariants(const hf_conf_t *c);   /* 1 when no sweep */
/* "key=value key=value" describing variant v, into buf ("" when there is no
 * sweep or v is out of range; truncated to fit n). */
void hf_conf_variant_desc(const hf_conf_t *c, int v, char *buf, size_t n);

const char *hf_conf_get(const hf_conf_t *c, const char *key);     /* NULL if not in table */
const char *hf_conf_origin(const hf_conf_t *c, const char *key);
/* The one key-error helper: HF_EINPUT with "ORIGIN: key 'KEY': message", ORIGIN
 * being the FILE:LINE that set the key ("default" when no file did). */
int hf_key_err(const hf_conf_t *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* rc unchanged; when rc != 0 and KEY came from a file, the pending message
 * (hf_errmsg) gets "ORIGIN: key 'KEY': " in front. */
int hf_key_wrap(const hf_conf_t *c, const char *key, int rc);
long hf_conf_int(const hf_conf_t *c, const char *key);
double hf_conf_float(const hf_conf_t *c, const char *key);
int hf_conf_bool(const hf_conf_t *c, const char *key);
/* Parse an INTLIST value into out (at most max); returns the count stored.
 * With out == NULL, returns the number of integers in the list. */
int hf_conf_intlist(const hf_conf_t *c, const char *key, int *out, int max);

/* Resolved configuration as suite text: "[section]\nkey = value   # origin\n",
 * sections in table order (first appearance), keys in table order, aligned;
 * with_origin also writes a header comment naming the suite and the variant.
 * with_origin = 0 omits all comments.  The text parses back (same table) to
 * the same values.  Caller frees. */
char *hf_conf_dump(const hf_conf_t *c, int with_origin);

/* Levenshtein distance, for did-you-mean. */
int hf_edit_distance(const char *a, const char *b);

#endif
