#!/usr/bin/env bash
# The README's main job: the quickstart suite with mpirun -n 2 reaches >= 0.80
# test accuracy (the issue's acceptance figure).
. "$(dirname "$0")/lib.sh"
need_fmnist
run_mpi 2 run "$HETFL_SRCDIR/suites/quickstart.conf" -o "$TMP/q.h5" > "$TMP/log" 2>&1
rc=$?
check "quickstart runs (exit $rc)" test $rc = 0
[ $rc = 0 ] || { echo "# the run's last lines:"; tail -20 "$TMP/log"; }
acc=$(sed -n 's/^done: .*final accuracy \([0-9.]*\).*/\1/p' "$TMP/log")
echo "final accuracy: $acc"
check "quickstart reaches >= 0.80 test accuracy (got $acc)" awk -v a="$acc" 'BEGIN { exit !(a >= 0.80) }'
check "quickstart has 30 progress lines" test "$(grep -c "^round " "$TMP/log")" = 30
finish
