# tests/lib.sh — shared helpers for the shell tests (sourced).
set -u
: "${HETFL:=$(pwd)/hetfl}"
: "${HETFL_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${MPIEXEC:=mpiexec}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
TESTS_RUN=0 TESTS_FAILED=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hetfl-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# Which launcher: Open MPI's mpirun takes --oversubscribe and -x VAR; MPICH's
# (Hydra) runs any number of ranks and passes the whole environment.
if "$MPIEXEC" --version 2>&1 | grep -qi "open mpi\|openrte"; then
  MPI_FLAVOUR=openmpi OVERSUB=--oversubscribe
else
  MPI_FLAVOUR=other OVERSUB=
fi
# mpi_env VAR...: the launcher options that pass these environment variables to the ranks
mpi_env() { [ "$MPI_FLAVOUR" = openmpi ] || return 0; local v; for v; do printf -- '-x\n%s\n' "$v"; done; }
# descendants PID: every process below PID (Hydra puts a proxy between mpiexec and the ranks)
descendants() { local c; for c in $(child_pids "$1"); do echo "$c"; descendants "$c"; done; }
# mpirun with N ranks (oversubscribed when N > cores)
run_mpi() { local n=$1; shift; "$MPIEXEC" -n "$n" $OVERSUB "$HETFL" "$@"; }

ok()   { TESTS_RUN=$((TESTS_RUN + 1)); echo "ok - $*"; }
bad()  { TESTS_RUN=$((TESTS_RUN + 1)); TESTS_FAILED=$((TESTS_FAILED + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
finish() {
  echo "$((TESTS_RUN - TESTS_FAILED)) passed, $TESTS_FAILED failed"
  [ "$TESTS_FAILED" = 0 ]
}
# child_pids PID: the pids of PID's children, one a line, read from /proc/*/stat
# (field 4 is the parent pid).  Tests use this rather than pgrep -P: procps is
# not on a minimal Debian and bootstrap does not install it.
child_pids() {
  local parent=$1 f s p
  for f in /proc/[0-9]*/stat; do
    { read -r s < "$f"; } 2> /dev/null || continue  # gone meanwhile
    s=${s##*) }  # the fields after "(comm)", which may itself hold spaces or ')': state ppid ...
    s=${s#* }
    if [ "${s%% *}" = "$parent" ]; then p=${f#/proc/}; echo "${p%/stat}"; fi
  done
  return 0
}
# running_cmdline ERE: true when some process's command line (arguments joined
# by spaces, as /proc/PID/cmdline holds them) matches ERE; pgrep -f without procps
running_cmdline() {
  local f c
  for f in /proc/[0-9]*/cmdline; do
    c=$(tr '\0' ' ' < "$f" 2> /dev/null) || continue  # gone meanwhile
    if printf '%s\n' "$c" | grep -Eq -- "$1"; then return 0; fi
  done
  return 1
}
# sanitized: true when $HETFL was built with --enable-sanitizers (its flags are
# in `hetfl --version`)
sanitized() { ASAN_OPTIONS=detect_leaks=0 "$HETFL" --version 2> /dev/null | grep -q '^cflags:.*-fsanitize=address'; }
# skip_if_sanitized: a long test (minutes in the regular build, 3 to 10 times that
# under ASan+UBSan) skips in a sanitizer build, where CI's 90 minutes cannot hold
# it; the regular build runs it, and HETFL_SANITIZED_ALL=1 runs it under the
# sanitizers too.  Its code paths stay covered there by the shorter tests.
skip_if_sanitized() {
  [ -z "${HETFL_SANITIZED_ALL:-}" ] && sanitized || return 0
  echo "SKIP: a long test, not run in a sanitizer build (HETFL_SANITIZED_ALL=1 runs it)"
  exit 77
}
# ranks_equal NAME SUITE [--set ...]: runs SUITE on 1, 2 and 3 ranks into
# $TMP/NAME-{1,2,3}.h5 and checks that 2 and 3 ranks equal 1 rank (hetfl compare)
ranks_equal() {
  local name=$1 suite=$2 n
  shift 2
  for n in 1 2 3; do
    run_mpi $n run "$suite" --quiet -o "$TMP/$name-$n.h5" "$@" > "$TMP/$name.log" 2>&1 ||
      { cat "$TMP/$name.log"; bad "$name: run on $n ranks"; return; }
  done
  ok "$name: runs on 1, 2 and 3 ranks"
  check "$name: 2 ranks == 1 rank" "$HETFL" compare "$TMP/$name-1.h5" "$TMP/$name-2.h5"
  check "$name: 3 ranks == 1 rank" "$HETFL" compare "$TMP/$name-1.h5" "$TMP/$name-3.h5"
}
need_fmnist() {
  if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    echo "SKIP: Fashion-MNIST absent (apt-get install dataset-fashion-mnist)"; exit 77
  fi
}

# --- results files (h5dump; $H5DUMP from make check, else h5dump on the PATH) ---
: "${H5DUMP:=h5dump}"
# cols [-x] FILE DATASET NAME...: the named columns of a compound dataset, one row
# per line, fields separated by single spaces.  Enums print by name, strings without
# quotes.  h5dump prints floating-point values with 6 significant digits; -x prints
# 17, enough to compare doubles exactly (what value checks need).
cols() {
  local fmt=()
  if [ "$1" = -x ]; then fmt=(-m %.17g); shift; fi
  local f=$1 d=$2; shift 2
  "$H5DUMP" "${fmt[@]}" -d "$d" -y -w 0 "$f" | awk -v want="$*" '
    BEGIN { nw = split(want, w, " ") }
    !data && /^ *DATA \{/ { data = 1; next }
    data && /^ *ATTRIBUTE / { exit }  # the descriptive attributes that follow the data
    !data && /^      (H5T_[A-Z0-9_]+|}) "[^"]+";$/ { n = split($0, a, "\""); names[nf++] = a[n - 1]; next }
    !data { next }
    /^ *\{ *$/ { i = 0; next }
    /^ *\}/ { if (i) { line = ""; for (j = 1; j <= nw; j++) line = line (j > 1 ? " " : "") v[w[j]]
                       print line }
              i = 0; next }
    { s = $0; gsub(/[ ,"]/, "", s); v[names[i++]] = s }'
}
# col [-x] FILE DATASET NAME: one column, one value per line
col() { cols "$@"; }
# nrows FILE DATASET: the number of rows (current extent) of a dataset
nrows() { "$H5DUMP" -H -d "$2" "$1" 2>/dev/null | sed -n 's/.*DATASPACE  SIMPLE { ( \([0-9]*\) ).*/\1/p' | head -1; }
# wait_round K LOG: wait until the run in the background ($pid) prints round K
wait_round() {
  local k=$1 log=$2 i
  for i in $(seq 1200); do
    grep -Eq "^round +$k/" "$log" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.025
  done
  return 1
}
# small_suite ROUNDS: the small suite of the reliability tests (synthetic data,
# 10 clients of one device each, logreg, 3 a round) on stdout; append sections to it
small_suite() {
  printf '[data]\ndataset = synthetic\nsynthetic_devices = 10\npartition = natural\n[model]\narch = logreg\n'
  printf '[federation]\nclients = 10\nclients_per_round = 3\nrounds = %s\n' "$1"
}
# model_values FILE: every value of /model/final (tensors in order, row-major), one a
# line, with 17 significant digits
model_values() {
  "$H5DUMP" -m %.17g -g /model/final -y -w 0 "$1" | awk '/^ *DATA \{/ { d = 1; next } d && /^ *\}/ { d = 0; next }
    d && !/"/ { n = split($0, a, ","); for (i = 1; i <= n; i++) { gsub(/ /, "", a[i]); if (a[i] != "") print a[i] } }'
}
SOFTMAX_REF=$HETFL_SRCDIR/tests/softmax_reference.awk  # the references' shared gradient
# leaf_json D < CLIENTS: a LEAF JSON document from lines "k n_k x_1 .. x_D y", client
# k holding n_k copies of its one sample (the layout tests/fl_reference.awk reads)
leaf_json() {
  awk -v D="$1" '{ u[NR] = "c" $1; n[NR] = $2; row = "[" $3; for (d = 2; d <= D; d++) row = row ", " $(2 + d)
    row = row "]"; xs = ""; ys = ""
    for (i = 0; i < $2; i++) { xs = xs (i ? ", " : "") row; ys = ys (i ? ", " : "") $(3 + D) }
    data[NR] = "\"c" $1 "\": {\"x\": [" xs "], \"y\": [" ys "]}" }
    END { printf "{\"users\": ["; for (i = 1; i <= NR; i++) printf "%s\"%s\"", (i > 1 ? ", " : ""), u[i]
          printf "], \"num_samples\": ["; for (i = 1; i <= NR; i++) printf "%s%d", (i > 1 ? ", " : ""), n[i]
          printf "],\n \"user_data\": {"; for (i = 1; i <= NR; i++) printf "%s%s", (i > 1 ? ",\n  " : ""), data[i]
          print "}}" }'
}
# leaf_text_json FILE SEED COUNT...: LEAF Shakespeare JSON, one user per count;
# characters from a subset of LEAF's 80 symbols by a fixed LCG (no JSON escapes needed)
leaf_text_json() {
  local f=$1 seed=$2; shift 2
  awk -v seed="$seed" -v counts="$*" 'BEGIN {
    A = "abcdefghijklmnopqrstuvwxyz ,.;:!?ABCDEFGHIJKLM"; na = length(A)
    n = split(counts, c, " "); s = seed
    printf "{\"users\": ["
    for (u = 1; u <= n; u++) printf "%s\"ROLE_%d\"", (u > 1 ? ", " : ""), u
    printf "], \"num_samples\": ["
    for (u = 1; u <= n; u++) printf "%s%d", (u > 1 ? ", " : ""), c[u]
    printf "], \"user_data\": {"
    for (u = 1; u <= n; u++) {
      printf "%s\"ROLE_%d\": {\"x\": [", (u > 1 ? ", " : ""), u
      ys = ""
      for (r = 1; r <= c[u]; r++) {
        x = ""
        for (i = 0; i <= 80; i++) {
          s = (s * 1103515245 + 12345) % 2147483648
          ch = substr(A, int(s / 65536) % (na - 3 * u) + 1, 1)  # roles differ in their alphabets
          if (i < 80) x = x ch; else y = ch
        }
        printf "%s\"%s\"", (r > 1 ? ", " : ""), x
        ys = ys (r > 1 ? ", " : "") "\"" y "\""
      }
      printf "], \"y\": [%s]}", ys
    }
    printf "}}\n"
  }' > "$f"
}
# model_matches FILE REF [TOL]: /model/final of FILE equals the "param J VALUE" lines of
# REF (tests/fl_reference.awk's output) within TOL (default 2e-6) + 1e-5 relative
model_matches() {
  paste <(model_values "$1") <(awk '$1 == "param" { print $3 }' "$2") | awk -v tol="${3:-2e-6}" '
    NF != 2 { bad = 1; next }
    { d = $1 - $2; if (d < 0) d = -d; t = tol + 1e-5 * ($2 < 0 ? -$2 : $2)
      if (d > t) { bad = 1; printf "  param %d: hetfl %s, reference %s\n", NR - 1, $1, $2 } n++ }
    END { exit bad || n == 0 }'
}
# tables_consistent FILE [EVAL_EVERY] [K]: the /rounds columns recomputed from /participation
# and /clients (any centralized synchronous run without sub-models): rounds numbered
# 1..R; selected = its participation rows; completed, late = the rows with those
# outcomes (partial counts as completed); dropped = the rest; bytes_up, energy_j,
# carbon_g, energy_j_measured = sums over the rows; bytes_down = selected x 4 P x K
# (K = 2 for SCAFFOLD, which also sends c);
# train_loss = sum n_k local_loss / sum n_k over completed rows; simulated time grows
# by at least the slowest kept client (comm_s + compute_s_model); the wall-clock parts
# fit in wall_time_s; test_accuracy and test_loss are NaN exactly on the rounds not
# evaluated (every EVAL_EVERY-th and the last are).  Prints what differs.
tables_consistent() {
  local f=$1 every=${2:-1} k=${3:-1} params
  params=$("$H5DUMP" -a /system/model_params "$f" | sed -n 's/^ *(0): *"*\([0-9]*\)"*$/\1/p')
  { cols -x "$f" /clients id samples | sed 's/^/c /'
    cols -x "$f" /participation round client outcome energy_j carbon_g energy_j_measured bytes_up local_loss \
      comm_s compute_s_model | sed 's/^/p /'
    cols -x "$f" /rounds round sim_time_s selected completed dropped late bytes_up bytes_down energy_j carbon_g \
      energy_j_measured train_loss test_loss test_accuracy wall_time_s wall_compute_s wall_agg_s wall_eval_s \
      wall_io_s | sed 's/^/r /'; } | awk -v every="$every" -v P="$params" -v K="$k" '
    function near(a, b) { if (a == "nan" || b == "nan") return a == b
                          d = a - b; if (d < 0) d = -d; return d <= 1e-12 + 1e-9 * (b < 0 ? -b : b) }
    function no(what) { bad = 1; print "  round " $2 ": " what }
    $1 == "c" { n[$2] = $3; next }
    $1 == "p" { r = $2; sel[r]++
      kept = $4 == "completed" || $4 == "partial"
      done[r] += kept; late[r] += $4 == "late"
      e[r] += $5; cg[r] += $6; em[r] = em[r] == "nan" || $7 == "nan" ? "nan" : em[r] + $7; up[r] += $8
      if (kept) { wl[r] += n[$3] * $9; ns[r] += n[$3]; if ($10 + $11 > slow[r]) slow[r] = $10 + $11 }
      next }
    $1 == "r" { R++
      if ($2 != R) no("round column " $2 ", want " R)
      if ($4 != sel[$2]) no("selected " $4 ", participation rows " sel[$2])
      if ($5 != done[$2]) no("completed " $5 ", want " done[$2])
      if ($7 != late[$2]) no("late " $7 ", want " late[$2])
      if ($6 != sel[$2] - done[$2] - late[$2]) no("dropped " $6 ", want " sel[$2] - done[$2] - late[$2])
      if ($8 != up[$2]) no("bytes_up " $8 ", sum " up[$2])
      if (P != "" && $9 != sel[$2] * 4 * P * K) no("bytes_down " $9 ", want " sel[$2] * 4 * P * K)
      if (!near($10, e[$2])) no("energy_j " $10 ", sum " e[$2])
      if (!near($11, cg[$2])) no("carbon_g " $11 ", sum " cg[$2])
      if (!near($12, em[$2] == "" ? 0 : em[$2])) no("energy_j_measured " $12 ", sum " em[$2])
      if (ns[$2] > 0 && !near($13, wl[$2] / ns[$2])) no("train_loss " $13 ", want " wl[$2] / ns[$2])
      if ($3 < prev + slow[$2] * (1 - 1e-12)) no("sim_time_s " $3 " < " prev " + slowest kept " slow[$2])
      prev = $3
      if (($14 == "nan") != ($15 == "nan")) no("test_loss and test_accuracy: one NaN, one not")
      if ($15 != "nan" && ($15 < 0 || $15 > 1)) no("test_accuracy " $15)
      if ($17 + $18 + $19 + $20 > $16 * (1 + 1e-9) || $17 < 0 || $18 < 0 || $19 < 0 || $20 < 0)
        no("wall-clock parts do not fit in wall_time_s")
      isnan[$2] = $14 == "nan"
      next }
    END { for (r = 1; r <= R; r++) if (isnan[r] != (r % every != 0 && r != R)) {
            bad = 1; print "  round " r ": test_loss " (isnan[r] ? "NaN" : "evaluated") " (eval_every " every ")" }
          exit bad || R == 0 }'
}

# write_sample_data DIR: tests/test_datasets --write's small files in each
# published layout (CIFAR binary, LEAF JSON, TFF and generic HDF5) into DIR;
# skips (77) where make check has not built the generator.
write_sample_data() {
  local gen
  gen=$(dirname "$HETFL")/tests/test_datasets
  [ -x "$gen" ] || { echo "SKIP: $gen not built (make check builds it)"; exit 77; }
  "$gen" --write "$1" > /dev/null || { echo "FAIL - writing the sample files"; exit 1; }
}
