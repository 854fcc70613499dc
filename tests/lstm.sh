#!/usr/bin/env bash
# The character LSTM end to end (model.arch = lstm, kernels/nn_lstm.c) on small
# LEAF Shakespeare JSON files written here in LEAF's layout (users,
# num_samples, user_data: {user: {x: [80-character strings], y: [next
# characters]}}; five speaking roles of 3, 7, 2, 5 and 4 samples): FedAvg,
# HeteroFL and FjORD runs are bitwise identical on 1, 2 and 3 ranks and
# across a resume, FedDF and dkt on 1 and 3 ranks; the model
# stored has the lstm's tensors; the lstm on non-text data and HeteroFL's
# scaler on the lstm are bad input (exit 2 naming the key); the memory
# estimate counts its activations over every time step (worked by hand).
. "$(dirname "$0")/lib.sh"
D=$TMP/data
mkdir -p "$D"

leaf_text_json "$D/train.json" 7 3 7 2 5 4
leaf_text_json "$D/test.json" 8 1 2 1 2 1

cat > "$TMP/lstm.conf" <<EOC
[run]
name = lstm
[data]
dataset = shakespeare
path = $D/train.json
test_path = $D/test.json
partition = natural
[model]
arch = lstm
hidden = 16,12
[federation]
clients = 5
clients_per_round = 3
rounds = 2
batch_size = 4
lr = 0.5
eval_every = 1
[heterofl]
levels = a-b
scaler = no
[fjord]
widths = 0.5,1.0
EOC
runs() {  # NAME RANKS... -- [--set ...]
  local name=$1 n; shift
  local ranks=()
  while [ "$1" != -- ]; do ranks+=("$1"); shift; done; shift
  for n in "${ranks[@]}"; do
    run_mpi "$n" run "$TMP/lstm.conf" --quiet -o "$TMP/$name-$n.h5" "$@" > "$TMP/$name.log" 2>&1 ||
      { cat "$TMP/$name.log"; bad "$name: run on $n ranks"; return; }
  done
  ok "$name: runs on ${ranks[*]} ranks"
  for n in "${ranks[@]:1}"; do
    check "$name: $n ranks == ${ranks[0]} rank" "$HETFL" compare "$TMP/$name-${ranks[0]}.h5" "$TMP/$name-$n.h5"
  done
}
runs fedavg 1 2 3 --
runs heterofl 1 2 3 -- --set federation.strategy=heterofl
runs fjord 1 2 3 -- --set federation.strategy=fjord
# FedDF and dkt on the lstm (issue 19): FedDF on 4 of the 5 roles, the fifth's 4
# samples its server (2) and validation (2) sets; one group without distillation
# == FedAvg bitwise; groups a-b (widths 1, 1/2) with 3 distillation steps and
# dkt (levels a-b, 2 distillation steps) identical on 1, 2 and 3 ranks
DF=(--set federation.clients=4 --set federation.strategy=feddf --set feddf.server_samples=2
    --set feddf.val_samples=2 --set feddf.batch_size=2)
runs fedavg4 1 -- --set federation.clients=4
runs feddf1 1 -- "${DF[@]}" --set feddf.steps=0
check "feddf, one group a, no distillation == fedavg (lstm), bitwise" "$HETFL" compare "$TMP/fedavg4-1.h5" \
  "$TMP/feddf1-1.h5" --ignore-key federation.strategy --ignore-key feddf.server_samples \
  --ignore-key feddf.val_samples --ignore-key feddf.batch_size --ignore-key feddf.steps
runs feddf 1 2 3 -- "${DF[@]}" --set feddf.groups=a-b --set feddf.steps=3 --set feddf.val_every=1
runs dkt 1 2 3 -- --set federation.mode=decentralized --set federation.strategy=dkt --set dkt.steps=2

# a finished run (checkpoint at round 2 of 3) resumed on another rank count
# redoes round 3 from the checkpoint: identical to the uninterrupted run
if run_mpi 2 run "$TMP/lstm.conf" --quiet -o "$TMP/res.h5" --set run.checkpoint_every=2 \
     --set federation.rounds=3 --set federation.strategy=heterofl > "$TMP/res.log" 2>&1; then
  cp "$TMP/res.h5" "$TMP/res2.h5"
  run_mpi 3 run "$TMP/lstm.conf" --quiet --set run.checkpoint_every=2 --set federation.rounds=3 \
    --set federation.strategy=heterofl --resume "$TMP/res2.h5" > "$TMP/res.log" 2>&1 || cat "$TMP/res.log"
  check "heterofl: resumed at round 2 on 3 ranks (from 2) == uninterrupted" "$HETFL" compare "$TMP/res.h5" "$TMP/res2.h5"
else
  cat "$TMP/res.log"; bad "resume: reference run"
fi

# the stored model is the lstm's: lstm1.w_ih is (4·16, 8), fc.weight (80, 12)
if [ -n "${H5DUMP:-}" ] && [ "$H5DUMP" != no ]; then
  check "lstm1.w_ih is (64, 8)" bash -c '"$0" -A -d /model/final/01_lstm1.w_ih "$1" | grep -q "( 64, 8 )"' \
    "$H5DUMP" "$TMP/fedavg-1.h5"
  check "fc.weight is (80, 12)" bash -c '"$0" -A -d /model/final/07_fc.weight "$1" | grep -q "( 80, 12 )"' \
    "$H5DUMP" "$TMP/fedavg-1.h5"
fi

# the memory estimate (setup.c) counts the lstm's work space over all 80
# steps, by hand: P = 80·8 (embedding) + (64·8 + 64·16 + 64) + (48·16 + 48·12
# + 48) + 80·12 + 80 = 4672, 10 copies = 186880 bytes; work space of 250
# samples (the evaluation chunk): dense buffers 250·80 + 2·250·80 + 80 =
# 60080 floats; the lstm's sub-batch of 32 over T = 80 steps: embedded inputs
# 80·32·8 = 20480, layer 1 gates 80·32·64 = 163840 + cell, tanh, h 3·40960,
# layer 2 122880 + 3·30720, two input gradients 2·80·32·16 = 81920, dh and dc
# 2·32·16, logits and their gradient 2·32·80, column sum 80: 610384 floats;
# 4·670464 + 186880 = 2868736 bytes.  One byte less is refused (exit 2).
memrun() {  # LIMIT
  HETFL_MEMORY_LIMIT=$1 "$MPIEXEC" -n 1 $(mpi_env HETFL_MEMORY_LIMIT) "$HETFL" run "$TMP/lstm.conf" --quiet \
    -o "$TMP/mem-$1.h5" > "$TMP/mem-$1.log" 2>&1
}
memrun 2868736
check "memory: the estimate of 2868736 bytes fits a limit of 2868736" test $? = 0 -a -s "$TMP/mem-2868736.h5"
memrun 2868735; rc=$?
check "memory: a limit of 2868735 bytes: exit 2 (got $rc)" test $rc = 2
check "memory: the message names model.hidden and the 0.00287 GB" \
  grep -q "key 'model.hidden': .* more than the 0.00287 GB available" "$TMP/mem-2868735.log"

# bad input: exit 2 on every rank, the key named, no results file
badrun() {  # NAME EXPECT --set...
  local name=$1 want=$2; shift 2
  run_mpi 2 run "$TMP/lstm.conf" --quiet -o "$TMP/$name.h5" "$@" > /dev/null 2> "$TMP/$name.err"; local rc=$?
  check "$name: exit 2 (got $rc)" test "$rc" = 2
  check "$name: message '$want'" grep -q -- "$want" "$TMP/$name.err"
  check "$name: no results file" test ! -e "$TMP/$name.h5"
}
badrun not-text "key 'model.arch': lstm needs text data" --set data.dataset=synthetic --set data.partition=iid \
  --set data.path= --set data.test_path=
badrun scaler "key 'heterofl.scaler'" --set federation.strategy=heterofl --set heterofl.scaler=yes
finish
