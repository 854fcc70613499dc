#!/usr/bin/env bash
# Aggregation across ranks, against values computed by hand: seven clients of
# unequal sizes (1 to 5 copies of one sample each; logistic regression, as in
# tests/values.sh) trained for two FedAvg rounds on 1, 2 and 3 ranks, with every
# reduction path of agg.c: the rank0 topology (every update a message to rank 0),
# allreduce through one shared-memory window, through windows on two "nodes" joined
# by MPI_Allreduce (HETFL_AGG_NODE_SIZE=2), and plain MPI_Allreduce (HETFL_AGG_SHM=0).
# Exact mode: each final model equals tests/fl_reference.awk's within float rounding,
# and all are bitwise identical (hetfl compare); float mode: within 1e-5 of the
# reference.  With 2 of 7 clients a round some ranks contribute nothing: the same.  (Fashion-MNIST runs of the same contract: tests/determinism.sh.)
. "$(dirname "$0")/lib.sh"
REF=$HETFL_SRCDIR/tests/fl_reference.awk
cat > "$TMP/clients" <<'EOF'
0 3 1.0 -0.5 0
1 1 0.25 0.75 2
2 5 -0.5 0.5 1
3 2 0.8 0.1 0
4 4 -0.3 -0.7 1
5 1 0.6 0.9 2
6 2 0.0 -1.0 1
EOF
leaf_json 2 < "$TMP/clients" > "$TMP/train.json"
cat > "$TMP/s.conf" <<EOF
[run]
name = agg-ranks
seed = 11
[data]
dataset = leaf
path = $TMP/train.json
test_path = $TMP/train.json
partition = natural
[model]
arch = logreg
[federation]
clients = 7
clients_per_round = 7
rounds = 2
batch_size = 2
lr = 0.5
[devices]
jitter = 0
[energy]
measure = no
EOF
run() {  # NAME RANKS [ENV=VALUE] [--set K=V]...
  local name=$1 n=$2 env=(); shift 2
  case ${1:-} in *=*) [ "${1#--}" = "$1" ] && { mapfile -t env < <(mpi_env "${1%%=*}"); export "${1?}"; shift; } ;; esac
  "$MPIEXEC" -n "$n" $OVERSUB "${env[@]}" "$HETFL" run "$TMP/s.conf" --quiet -o "$TMP/$name.h5" "$@" \
    > "$TMP/$name.log" 2>&1 || { cat "$TMP/$name.log"; bad "$name: run"; }
  unset HETFL_AGG_NODE_SIZE HETFL_AGG_SHM
}
run x0 1 --set federation.lr=0 --set federation.rounds=1
model_values "$TMP/x0.h5" > "$TMP/x0"
awk -f "$SOFTMAX_REF" -f "$REF" -v D=2 -v C=3 -v lr=0.5 -v E=1 -v B=2 -v rounds=2 -v strategy=fedavg "$TMP/x0" "$TMP/clients" \
  > "$TMP/ref" || bad "reference"
run r1 1
check "1 rank: final model = reference" model_matches "$TMP/r1.h5" "$TMP/ref"
for c in "r2a 2 --set aggregation.topology=allreduce" "r3 3" "r3a 3 --set aggregation.topology=allreduce" \
         "r3n 3 HETFL_AGG_NODE_SIZE=2 --set aggregation.topology=allreduce" \
         "r3m 3 HETFL_AGG_SHM=0 --set aggregation.topology=allreduce"; do
  # shellcheck disable=SC2086
  set -- $c
  name=$1; shift
  run "$name" "$@"
  check "$name ($*): final model = reference" model_matches "$TMP/$name.h5" "$TMP/ref"
  check "$name: bitwise identical to 1 rank (hetfl compare)" \
    "$HETFL" compare --ignore-key aggregation.topology "$TMP/r1.h5" "$TMP/$name.h5"
done
for c in "f1 1" "f3 3" "f3a 3 --set aggregation.topology=allreduce" "f3m 3 HETFL_AGG_SHM=0 --set aggregation.topology=allreduce"; do
  # shellcheck disable=SC2086
  set -- $c
  name=$1; shift
  run "$name" "$@" --set aggregation.exact=no
  check "float mode, $name ($*): final model within 1e-5 of the reference" model_matches "$TMP/$name.h5" "$TMP/ref" 1e-5
done
# two clients a round: some ranks hold no update in a round (their partial sums must
# count as zero): every path, exact bitwise and float within 1e-5, against 1 rank exact
run e1 1 --set federation.clients_per_round=2 --set federation.rounds=3
for c in "e3 3" "e3a 3 --set aggregation.topology=allreduce" \
         "e3n 3 HETFL_AGG_NODE_SIZE=2 --set aggregation.topology=allreduce" \
         "e3m 3 HETFL_AGG_SHM=0 --set aggregation.topology=allreduce"; do
  # shellcheck disable=SC2086
  set -- $c
  name=$1; shift
  run "$name" "$@" --set federation.clients_per_round=2 --set federation.rounds=3
  check "2 of 7 a round, $name ($*): bitwise identical to 1 rank" \
    "$HETFL" compare --ignore-key aggregation.topology "$TMP/e1.h5" "$TMP/$name.h5"
  run "$name-f" "$@" --set federation.clients_per_round=2 --set federation.rounds=3 --set aggregation.exact=no
  check "2 of 7 a round, float, $name ($*): within 1e-5 of exact" \
    model_matches "$TMP/$name-f.h5" <(model_values "$TMP/e1.h5" | sed 's/^/param x /') 1e-5
done
finish
