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

# mpirun with N ranks (oversubscribed when N > cores)
run_mpi() { local n=$1; shift; "$MPIEXEC" -n "$n" --oversubscribe "$HETFL" "$@"; }

ok()   { TESTS_RUN=$((TESTS_RUN + 1)); echo "ok - $*"; }
bad()  { TESTS_RUN=$((TESTS_RUN + 1)); TESTS_FAILED=$((TESTS_FAILED + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
finish() {
  echo "$((TESTS_RUN - TESTS_FAILED)) passed, $TESTS_FAILED failed"
  [ "$TESTS_FAILED" = 0 ]
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
nrows() { "$H5DUMP" -H -d "$2" "$1" 2>/dev/null | sed -n 's/.*DATASPACE  SIMPLE { ( \([0-9]*\) ).*/\1/p'; }
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
