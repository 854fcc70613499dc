#!/usr/bin/env bash
# Valgrind memcheck on the single-rank path: a short run that checkpoints every
# round, a --resume of it, and a rejected suite must give no memory error and no
# definite leak outside Open MPI's MPI_Init/MPI_Finalize (tests/valgrind.supp).
# Slow (about a minute per run here), so opt-in: HETFL_VALGRIND=1 make check
# TESTS=tests/valgrind.sh, or directly: HETFL_VALGRIND=1 HETFL=./hetfl bash tests/valgrind.sh.
. "$(dirname "$0")/lib.sh"
need_fmnist
[ "${HETFL_VALGRIND:-0}" = 1 ] || { echo "SKIP: set HETFL_VALGRIND=1 to run valgrind (slow)"; exit 77; }
command -v valgrind > /dev/null || { echo "SKIP: valgrind not installed"; exit 77; }
SUPP=(--suppressions="$HETFL_SRCDIR/tests/valgrind.supp")
[ -f /usr/share/openmpi/openmpi-valgrind.supp ] && SUPP+=(--suppressions=/usr/share/openmpi/openmpi-valgrind.supp)
VG=(valgrind -q --num-callers=50 --error-exitcode=99 --leak-check=full --show-leak-kinds=definite
    --errors-for-leak-kinds=definite "${SUPP[@]}")
S=$HETFL_SRCDIR/tests/data/tiny.conf
A=(--quiet --set federation.rounds=3 --set run.checkpoint_every=1)
"${VG[@]}" "$HETFL" run "$S" "${A[@]}" -o "$TMP/vg.h5" > "$TMP/log1" 2>&1; rc=$?
[ $rc = 0 ] || cat "$TMP/log1"; check "memcheck: run with checkpoints, status $rc" test $rc = 0
"${VG[@]}" "$HETFL" run "$S" "${A[@]}" --resume "$TMP/vg.h5" > "$TMP/log2" 2>&1; rc=$?
[ $rc = 0 ] || cat "$TMP/log2"; check "memcheck: --resume, status $rc" test $rc = 0
"${VG[@]}" "$HETFL" run "$HETFL_SRCDIR/tests/bad-inputs/t-avail-overlap.conf" -o "$TMP/bad.h5" \
  > "$TMP/log3" 2>&1; rc=$?
[ $rc = 2 ] || cat "$TMP/log3"; check "memcheck: a rejected trace exits 2, status $rc" test $rc = 2
finish
