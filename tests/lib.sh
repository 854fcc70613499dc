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
need_fmnist() {
  if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    echo "SKIP: Fashion-MNIST absent (apt-get install dataset-fashion-mnist)"; exit 77
  fi
}
