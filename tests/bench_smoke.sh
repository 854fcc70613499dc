#!/bin/bash
# bench_smoke.sh — `hetfl bench all --quick` on 2 ranks runs every section and
# each prints its measured ratio line (kernels, round, agg, scale, hdf5, peer).
# Not a timed test: it checks the lines are there, not that targets are met
# (except peak RSS <= 2 GiB, which does not depend on the machine's load).
# The peer section may say "skipped" where python3-torch is not importable.
. "$(dirname "$0")/lib.sh"
export HETFL_SRCDIR

if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  run_mpi 2 bench all --quick > "$TMP/all.txt" 2> "$TMP/err.txt"
  rc=$?
  have_fmnist=1
else  # sections that need no Fashion-MNIST
  echo "note: Fashion-MNIST absent: only the agg and scale sections"
  { run_mpi 2 bench agg --quick && run_mpi 2 bench scale --quick; } > "$TMP/all.txt" 2> "$TMP/err.txt"
  rc=$?
  have_fmnist=0
fi
cat "$TMP/all.txt"
check "bench exits 0" test "$rc" = 0
has() { grep -Eq -- "$1" "$TMP/all.txt"; }
verdict='(PASS|MISS)'
check "the OpenBLAS kernels and their sgemm rate are named" \
  has "^OpenBLAS kernels: core [A-Za-z0-9]+ \(OPENBLAS_CORETYPE (= [A-Za-z0-9]+|unset)\); 1-thread sgemm 1024\^3 [0-9.]+ GFLOP/s$"
check "agg: float allreduce vs raw ratio" has "allreduce +float .*x <= 1\.1x $verdict"
check "agg: exact allreduce vs raw ratio" has "allreduce +exact .*x <= 1\.5x $verdict"
check "scale: registered-clients ratio" has "^registered x[0-9]+ .*round time x[0-9.]+ .*$verdict"
check "scale: participants ratio" has "^participants x10 .*round time x[0-9.]+ .*$verdict"
check "scale: peak RSS of all ranks within 2 GiB" has "^peak RSS, all 2 ranks, .* target <= 2 GiB: PASS"
check "scale: four configurations measured" test "$(grep -Ec '^[0-9]+ +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ MiB +[0-9.]+ MiB +[0-9.]+ MiB' "$TMP/all.txt")" = 4
if [ "$have_fmnist" = 1 ]; then
  check "kernels: 2NN B=10 vs sgemm peak" has "^2NN +fused +10 .*% +>= 50% +$verdict"
  check "kernels: conv1 direct (model.conv = fast) B=10 vs sgemm peak" has "^conv1 +direct +10 .*% +>= 75% +$verdict"
  check "kernels: CNN with model.conv = fast, B=64" has "^CNN +fast +64 +[0-9]+ +[0-9.]+ +[0-9.]+%"
  check "round: framework overhead share" has "^framework overhead .*target <= 10%: $verdict"
  check "hdf5: in-run share of the round" has "^quickstart, .*of the round +target <= 5%: $verdict"
  check "hdf5: writer-alone share" has "^writer alone, .*target <= 5%: $verdict"
  check "scale: Fashion-MNIST on demand, two populations measured" \
    test "$(grep -Ec '^fmnist [0-9]+ +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ MiB' "$TMP/all.txt")" = 2
  check "scale: Fashion-MNIST on demand, registered-clients ratio" has "^fmnist: registered x10 .*round time x[0-9.]+ .*$verdict"
  for B in 10 64; do
    check "peer: B=$B ratio or a clean skip" has "^$B +[0-9.]+ +([0-9.]+ .*x .*$verdict, $verdict|- .*pytorch peer skipped)"
    check "peer: CNN B=$B with model.conv = fast" has "^$B +[0-9.]+ +([0-9.]+ .*x .*$verdict, $verdict|- .*pytorch peer skipped.*) +\(model.conv = fast\)$"
  done
fi
run_mpi 2 bench nosuch > /dev/null 2>&1
check "unknown section: exit 2" test $? = 2
finish
