#!/usr/bin/env bash
# FedGen with mixed widths (fedgen.levels, src/strategies/fedgen.c on hetero.c)
# on the ResNet and the LSTM (the MLP and the CNN: tests/fedgen_widths.sh).
# The head is the model's last dense layer on both: the ResNet's linear layer
# on the pooled channels of its last stage (F = 8 here), the LSTM's fc on the
# top layer's hidden state at the last time step (F = 12); a width-1/4 client's
# head reads the first 2 resp. 3 generated features.
#  - ResNet-10 (widths 4,8,8,8, group norm) on CIFAR-10 sample files (written
#    by tests/test_datasets --write), 4 clients of unequal Dirichlet shares;
#    the LSTM (16,12) on LEAF Shakespeare JSON of 5 roles with 3, 7, 2, 5 and 4
#    samples (tests/lib.sh leaf_text_json);
#  - width 1 through the sub-model path: a99-c1 puts every client at width 1
#    but trains each through hetero.c with the regulariser as its gradient
#    term; equal to fedgen.levels = a (the engine's SGD with grad_hook) bit for
#    bit (hetfl compare: model, /rounds, /participation), with the regulariser
#    on in round 2 (alpha 0 gives another model: the check can fail);
#  - the LSTM's bytes by hand: width 1 uploads 4672 floats + 80 label counts
#    (19008 bytes), width 1/4 (hidden 4,3) 1264 floats + 80 (5376 bytes);
#    round 2's downloads add G (16x88 + 16 + 12x16 + 12 = 1628 floats) and
#    p-hat (80 floats) per client;
#  - a1-c1 (widths 1 and 1/4) on 1, 2 and 3 ranks bitwise; the finished 3-round
#    run resumed on 2 ranks from its round-2 checkpoint (G, Adam moments, p-hat
#    restored; round 3 regularised) equals it bitwise;
#  - the ResNet with static batch norm is refused for fedgen (exit 2, key
#    'model.norm': its generated features would meet stale statistics).
. "$(dirname "$0")/lib.sh"
skip_if_sanitized
D=$TMP/data
write_sample_data "$D"
leaf_text_json "$D/train.json" 7 3 7 2 5 4
leaf_text_json "$D/test.json" 8 1 2 1 2 1

cat > "$TMP/resnet.conf" <<EOC
[data]
dataset = cifar10
path = $D/cifar-10-batches-bin
partition = dirichlet
min_samples = 5
train_samples = 150
[model]
arch = resnet
hidden = 4,8,8,8
depth = 10
norm = group
[federation]
strategy = fedgen
clients = 4
clients_per_round = 3
rounds = 2
batch_size = 5
lr = 0.05
eval_every = 1
[fedgen]
hidden = 16
noise_dim = 8
gen_batch = 8
gen_steps = 5
EOC
cat > "$TMP/lstm.conf" <<EOC
[data]
dataset = shakespeare
path = $D/train.json
test_path = $D/test.json
partition = natural
[model]
arch = lstm
hidden = 16,12
[federation]
strategy = fedgen
clients = 5
clients_per_round = 4
rounds = 2
batch_size = 4
lr = 0.5
eval_every = 1
[fedgen]
hidden = 16
noise_dim = 8
gen_batch = 8
gen_steps = 5
EOC
run1() {  # MODEL OUT RANKS [--set ...]
  local m=$1 o=$2 n=$3; shift 3
  if [ "$n" = 1 ]; then "$HETFL" run "$TMP/$m.conf" --quiet -o "$TMP/$o.h5" "$@" > "$TMP/$o.log" 2>&1
  else run_mpi "$n" run "$TMP/$m.conf" --quiet -o "$TMP/$o.h5" "$@" > "$TMP/$o.log" 2>&1; fi
}
same() { "$HETFL" compare "$@" > "$TMP/cmp.log" 2>&1 || { cat "$TMP/cmp.log"; return 1; }; }

for m in resnet lstm; do
  run1 $m $m-a 1
  run1 $m $m-a99 1 --set fedgen.levels=a99-c1
  check "$m: a99-c1 (every client width 1, through hetero.c) = levels a (engine SGD), bitwise" \
    same "$TMP/$m-a.h5" "$TMP/$m-a99.h5" --ignore-key fedgen.levels
  run1 $m $m-alpha0 1 --set fedgen.alpha=0
  check "$m: the regulariser is on in round 2 (alpha 0 gives another model)" \
    bash -c "! h5diff '$TMP/$m-a.h5' '$TMP/$m-alpha0.h5' /model/final /model/final > /dev/null 2>&1"
  R=(--set fedgen.levels=a1-c1 --set federation.rounds=3 --set run.checkpoint_every=2)
  run1 $m $m-d1 1 "${R[@]}"
  check "$m: a1-c1: /rounds_by_width has widths 1 and 0.25" \
    test "$(col "$TMP/$m-d1.h5" /rounds_by_width width | sort -u | tr '\n' ' ')" = "0.25 1 "
  run1 $m $m-d2 2 "${R[@]}"
  check "$m: a1-c1: 2 ranks = 1 rank" same "$TMP/$m-d1.h5" "$TMP/$m-d2.h5"
  run1 $m $m-d3 3 "${R[@]}" --set aggregation.topology=allreduce
  check "$m: a1-c1: 3 ranks, allreduce = 1 rank" same "$TMP/$m-d1.h5" "$TMP/$m-d3.h5"
  cp "$TMP/$m-d1.h5" "$TMP/$m-res.h5"
  run_mpi 2 run "$TMP/$m.conf" --quiet --resume "$TMP/$m-res.h5" "${R[@]}" > "$TMP/$m-res.log" 2>&1
  check "$m: a1-c1: resumed on 2 ranks from round 2's checkpoint = uninterrupted" \
    same "$TMP/$m-d1.h5" "$TMP/$m-res.h5"
done

lstm_bytes() {  # clients 0-2 width 1, 3-4 width 1/4 (exact quotas of 5)
  cols "$TMP/lstm-d1.h5" /participation round client width bytes_up | awk '
    { want = $3 == 1 ? 19008 : 5376
      if (($3 == 1) != ($2 < 3) || $4 != want) { bad = 1; print } n++ } END { exit bad || n != 12 }' || return 1
  cols "$TMP/lstm-d1.h5" /participation round width | awk '
    { d[$1] += ($2 == 1 ? 18688 : 5056) + ($1 > 1 ? 4 * (1628 + 80) : 0) } END { for (r = 1; r <= 3; r++) print d[r] }' |
    diff - <(col "$TMP/lstm-d1.h5" /rounds bytes_down)
}
check "lstm: bytes by hand (sub-model + 320 up; sub-model, + G and p-hat from round 2, down)" lstm_bytes

sed 's/^norm = group/norm = static-bn/' "$TMP/resnet.conf" > "$TMP/bn.conf"
"$HETFL" run "$TMP/bn.conf" --quiet -o "$TMP/bn.h5" > "$TMP/bn.log" 2>&1
rc=$?
check "resnet with static-bn: fedgen refused, exit 2 (got $rc), key 'model.norm', no results file" \
  bash -c "[ $rc = 2 ] && grep -q \"bn.conf:11: key 'model.norm': static-bn .*not for fedgen\" '$TMP/bn.log' &&
           [ ! -e '$TMP/bn.h5' ]"
finish
