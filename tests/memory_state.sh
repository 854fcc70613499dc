#!/usr/bin/env bash
# The pre-run memory estimate (setup.c, check_model_memory) counts the state kept
# per client on its rank, for the most clients a rank may ever see take part: a
# configuration needing one byte more than HETFL_MEMORY_LIMIT is refused (exit 2,
# FILE:LINE naming the key of the largest per-client state, on every rank, no
# results file), one needing exactly the limit runs.  The bytes are computed here
# by hand for a 60-input, 12-hidden, 10-class MLP (synthetic data):
#   P = 60*12 + 12 + 12*10 + 10 = 862 parameters
#   model buffers: 10 copies of P floats = 40 P = 34480 bytes, and the work
#   space of max(batch 10, eval chunk 250) = 250 samples: activations 250 * 12
#   and 250 * 10, two gradient buffers of 250 * the widest layer (60), a column
#   sum of 60: 4 bytes * 35560 = 142240 bytes: 176720 in all
#   per client: SCAFFOLD's c_k and FedDyn's hist_k, P floats = 3448 bytes; top-k
#   error feedback, P floats per uploaded float (SCAFFOLD uploads 2P: 6896)
#   clients a rank may see: its block of the 11 clients (11 on 1 rank, 6 on 2),
#   or rounds * clients_per_round when fewer (1 round * 5).
#   the sparse table that finds each kind of per-client vector (cstore.h): the
#   least power of two of slots >= 2 * the clients seen, or a slot per hosted
#   client when that is no more (here always: 11 or 6 slots), 16 bytes a slot
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
  [ "$want" = model.hidden ] && avail=$(awk -v l="$lim" 'BEGIN { printf "%.3g GB", l / 1e9 }')
  check "$name: the message names s.conf and key '$want' once, and the limit ($avail)" \
    test "$(grep -c "^hetfl: s.conf:[0-9]*: key '$want': .* more than the $avail available" "$d/log")" = 1
  check "$name: no results or temporary file, no core" test -z "$(ls "$d" | grep -v -e '^s.conf$' -e '^log$' || true)"
}
# SCAFFOLD on 1 rank: 176720 + 11 * 3448 + 11 * 16 = 214824
mcase scaffold 1 214824 run scaffold 9
mcase scaffold-short 1 214823 federation.strategy scaffold 9
# FedAvg keeps nothing per client: the model's 176720 fit in 214823
mcase fedavg 1 214823 run fedavg 9
mcase fedavg-model 1 176719 model.hidden fedavg 9
# 2 ranks: blocks of 6 and 5 clients: 176720 + 6 * 3448 + 6 * 16 = 197504
mcase scaffold-2ranks 2 197504 run scaffold 9
mcase scaffold-2ranks-short 2 197503 federation.strategy scaffold 9
# one round of 5 clients: at most 5 take part: 176720 + 5 * 3448 = 193960, and a table
# for 5 of 11 clients: 16 slots >= 2 * 5 are no fewer than 11, so 11 slots: 176
mcase scaffold-1round 1 194136 run scaffold 1
mcase scaffold-1round-short 1 194135 federation.strategy scaffold 1
# FedDyn: the same 3448 bytes per client
mcase feddyn-short 1 214823 federation.strategy feddyn 9
# top-k error feedback with SCAFFOLD: 11 * (3448 + 6896) = 113784, top-k the larger part,
# and two tables of 176: 176720 + 113784 + 352 = 290856
mcase topk-scaffold 1 290856 run scaffold 9 "compress = topk"
mcase topk-scaffold-short 1 290855 energy.compress scaffold 9 "compress = topk"
finish
