#!/usr/bin/env bash
# The pre-run memory estimate (setup.c, check_model_memory) counts the state kept
# per client on its rank, for the most clients a rank may ever see take part: a
# configuration needing one byte more than HETFL_MEMORY_LIMIT is refused (exit 2,
# FILE:LINE naming the key of the largest per-client state, on every rank, no
# results file), one needing exactly the limit runs.  The bytes are computed here
# by hand for a 60-input, 12-hidden, 10-class MLP (synthetic data):
#   P = 60*12 + 12 + 12*10 + 10 = 862 parameters
#   model buffers: 10 copies of P floats = 40 P = 34480 bytes, and activations
#   3 * 4 bytes * max(batch 10, eval chunk 250) * widest layer 60 * (1 hidden + 2)
#   = 540000 bytes: 574480 in all
#   per client: SCAFFOLD's c_k and FedDyn's hist_k, P floats = 3448 bytes; top-k
#   error feedback, P floats per uploaded float (SCAFFOLD uploads 2P: 6896)
#   clients a rank may see: its block of the 11 clients (11 on 1 rank, 6 on 2),
#   or rounds * clients_per_round when fewer (1 round * 5).
. "$(dirname "$0")/lib.sh"
base() {  # STRATEGY ROUNDS [EXTRA LINE for [energy]]
  cat <<EOF
[run]
name = mem
[data]
dataset = synthetic
partition = iid
train_samples = 1100
[model]
arch = mlp
hidden = 12
[federation]
strategy = $1
clients = 11
clients_per_round = 5
rounds = $2
batch_size = 10
[energy]
measure = no
${3:-}
EOF
}
# case NAME RANKS LIMIT EXPECT(run|KEY) STRATEGY ROUNDS [ENERGY LINE]
mcase() {
  local name=$1 n=$2 lim=$3 want=$4 d=$TMP/$1; shift 4
  mkdir -p "$d"
  base "$@" > "$d/s.conf"
  (cd "$d" && ulimit -c 0 && HETFL_MEMORY_LIMIT=$lim exec "$MPIEXEC" -n "$n" $OVERSUB \
     $(mpi_env HETFL_MEMORY_LIMIT) "$HETFL" run s.conf --quiet -o "$d/out.h5") > "$d/log" 2>&1
  local rc=$?
  if [ "$want" = run ]; then
    check "$name: needs $lim bytes per rank, limit $lim: runs (exit $rc)" test $rc = 0 -a -s "$d/out.h5"
    [ $rc = 0 ] || cat "$d/log"
    return
  fi
  check "$name: limit $lim, one byte short: exit 2 (got $rc)" test $rc = 2
  local avail="0.$(printf %06d $lim) MB"  # the limit in MB, as the message prints it
  [ "$want" = model.hidden ] && avail="0.000$(printf %06d $lim | cut -c1-3) GB"
  check "$name: the message names s.conf and key '$want' once, and the limit ($avail)" \
    test "$(grep -c "^hetfl: s.conf:[0-9]*: key '$want': .* more than the $avail available" "$d/log")" = 1
  check "$name: no results or temporary file, no core" test -z "$(ls "$d" | grep -v -e '^s.conf$' -e '^log$' || true)"
}
# SCAFFOLD on 1 rank: 574480 + 11 * 3448 = 612408
mcase scaffold 1 612408 run scaffold 9
mcase scaffold-short 1 612407 federation.strategy scaffold 9
# FedAvg keeps nothing per client: the model's 574480 fit in 612407
mcase fedavg 1 612407 run fedavg 9
mcase fedavg-model 1 574479 model.hidden fedavg 9
# 2 ranks: blocks of 6 and 5 clients: 574480 + 6 * 3448 = 595168
mcase scaffold-2ranks 2 595168 run scaffold 9
mcase scaffold-2ranks-short 2 595167 federation.strategy scaffold 9
# one round of 5 clients: at most 5 take part: 574480 + 5 * 3448 = 591720
mcase scaffold-1round 1 591720 run scaffold 1
mcase scaffold-1round-short 1 591719 federation.strategy scaffold 1
# FedDyn: the same 3448 bytes per client
mcase feddyn-short 1 612407 federation.strategy feddyn 9
# top-k error feedback with SCAFFOLD: 11 * (3448 + 6896) = 113784, top-k the larger part
mcase topk-scaffold 1 688264 run scaffold 9 "compress = topk"
mcase topk-scaffold-short 1 688263 energy.compress scaffold 9 "compress = topk"
finish
