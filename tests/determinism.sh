#!/usr/bin/env bash
# Determinism contract: the same suite and seed give bitwise-identical results
# (everything but wall-clock columns) for 1, 2 and 3 ranks and both topologies.
. "$(dirname "$0")/lib.sh"
need_fmnist
S=$HETFL_SRCDIR/tests/data/tiny.conf
for part in iid dirichlet; do
  for n in 1 2 3; do
    for topo in rank0 allreduce; do
      run_mpi $n run "$S" --quiet -o "$TMP/$part-$n-$topo.h5" --set aggregation.topology=$topo \
        --set data.partition=$part > "$TMP/log" 2>&1 || { cat "$TMP/log"; bad "run $part n=$n $topo"; continue; }
    done
  done
  ref=$TMP/$part-1-rank0.h5
  for n in 1 2 3; do
    for topo in rank0 allreduce; do
      f=$TMP/$part-$n-$topo.h5
      [ "$f" = "$ref" ] && continue
      check "$part: $n ranks, $topo == 1 rank, rank0 (hetfl compare)" "$HETFL" compare "$ref" "$f"
    done
  done
  # the allreduce topology's three reductions: one shared-memory window (above),
  # windows on two "nodes" + MPI_Allreduce between them, plain MPI_Allreduce
  for how in HETFL_AGG_NODE_SIZE=2 HETFL_AGG_SHM=0; do
    env "$how" "$MPIEXEC" -n 3 $OVERSUB $(mpi_env "${how%%=*}") "$HETFL" run "$S" --quiet \
      -o "$TMP/$part-3-$how.h5" --set aggregation.topology=allreduce --set data.partition=$part \
      > "$TMP/log" 2>&1 || { cat "$TMP/log"; bad "run $part n=3 allreduce $how"; continue; }
    check "$part: 3 ranks, allreduce with $how == 1 rank, rank0" "$HETFL" compare "$ref" "$TMP/$part-3-$how.h5"
  done
  if [ -n "${H5DIFF:-}" ] && [ "$H5DIFF" != no ]; then
    check "$part: h5diff /model/final, 3 ranks allreduce vs 1 rank" \
      "$H5DIFF" "$ref" "$TMP/$part-3-allreduce.h5" /model/final
    check "$part: h5diff /config, 2 ranks vs 1 rank" \
      "$H5DIFF" "$ref" "$TMP/$part-2-rank0.h5" /config
  fi
done
# rounds of more than 127 updates sum 64-bit integers (the shared window widens)
W=(--set federation.clients=300 --set federation.clients_per_round=150 --set federation.rounds=2)
"$HETFL" run "$S" --quiet -o "$TMP/wide-1.h5" "${W[@]}" > /dev/null 2>&1
HETFL_AGG_NODE_SIZE=2 "$MPIEXEC" -n 3 $OVERSUB $(mpi_env HETFL_AGG_NODE_SIZE) "$HETFL" run "$S" --quiet \
  -o "$TMP/wide-3.h5" "${W[@]}" --set aggregation.topology=allreduce > /dev/null 2>&1
check "150 updates per round: 3 ranks (2 node groups) allreduce == 1 rank" \
  "$HETFL" compare "$TMP/wide-1.h5" "$TMP/wide-3.h5"
# the check can fail: a different seed must differ
run_mpi 2 run "$S" --quiet -o "$TMP/seed9.h5" --seed 9 > /dev/null 2>&1
if "$HETFL" compare "$TMP/iid-1-rank0.h5" "$TMP/seed9.h5" > /dev/null 2>&1; then
  bad "a different seed gives different results"
else ok "a different seed gives different results"; fi
# float mode still runs (not covered by the contract) and, over shared memory or
# MPI_Allreduce, stays within float rounding of the exact result
check "float aggregation runs" run_mpi 2 run "$S" --quiet -o "$TMP/float.h5" --set aggregation.exact=no \
  --set aggregation.topology=allreduce
HETFL_AGG_SHM=0 check "float aggregation runs without shared memory" "$MPIEXEC" -n 2 $OVERSUB \
  $(mpi_env HETFL_AGG_SHM) "$HETFL" run "$S" --quiet -o "$TMP/float-mpi.h5" --set aggregation.exact=no \
  --set aggregation.topology=allreduce
if [ -n "${H5DIFF:-}" ] && [ "$H5DIFF" != no ]; then
  check "float: shared memory and MPI_Allreduce models within 1e-4" \
    "$H5DIFF" -d 1e-4 "$TMP/float.h5" "$TMP/float-mpi.h5" /model/final
fi
finish
