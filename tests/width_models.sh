#!/usr/bin/env bash
# Width strategies on the CNN and the ResNet (issue 19), on CIFAR-10 binary
# sample files (written by tests/test_datasets --write) with crop + flip
# augmentation, 4 clients of unequal Dirichlet shares (HeteroFL and FjORD on
# these models: tests/resnet.sh; on the lstm: tests/lstm.sh):
#   - the single-width cases equal their baselines: FjORD with the one tier 1.0
#     and FedDF with the one group a and no distillation equal FedAvg bitwise
#     (n_k weights all three; the augmentation is applied by the strategies'
#     own training, keyed as the engine's, so the check fails without it);
#     dkt at width 1 without distillation or masked loss equals D-PSGD within
#     1e-5 (dkt adds the update to the model, D-PSGD copies it: float rounding);
#   - HeteroFL (levels a-c) and FjORD (with self-distillation) on the CNN are
#     bitwise identical on 1, 2 and 3 ranks (the suites heterofl-cnn and
#     fjord-cnn; on the ResNet: tests/resnet.sh);
#   - FedDF (groups a1-c1, 5 distillation steps) and dkt (levels a-c, 2
#     steps) on the CNN and on the ResNet are bitwise identical on 1, 2 and 3
#     ranks; FedDF on the CNN and dkt on the ResNet also across a resume on 3
#     ranks from a checkpoint written on 2 (against the uninterrupted run on 2
#     ranks).
. "$(dirname "$0")/lib.sh"
skip_if_sanitized
D=$TMP/data
write_sample_data "$D"

cat > "$TMP/w.conf" <<EOC
[data]
dataset = cifar10
path = $D/cifar-10-batches-bin
partition = dirichlet
min_samples = 5
train_samples = 150
augment = crop-flip
[model]
arch = cnn
hidden = 4,8,16
[federation]
clients = 4
clients_per_round = 3
rounds = 2
batch_size = 5
lr = 0.05
eval_every = 1
[heterofl]
levels = a-c
scaler = no
[feddf]
groups = a1-c1
server_samples = 20
val_samples = 10
steps = 5
val_every = 2
[dkt]
steps = 2
EOC
S=$TMP/w.conf
RESNET=(--set model.arch=resnet --set model.hidden=4,8,8,8 --set model.depth=10 --set model.norm=group)
FEDDF=(--set federation.strategy=feddf)
DKT=(--set federation.mode=decentralized --set federation.strategy=dkt)
run1() { local out=$1; shift; run_mpi 1 run "$S" --quiet -o "$TMP/$out.h5" "$@" > "$TMP/$out.log" 2>&1 || cat "$TMP/$out.log"; }
same() { "$HETFL" compare "$@" > "$TMP/cmp.log" 2>&1 || { cat "$TMP/cmp.log"; return 1; }; }
differ() { ! "$HETFL" compare "$@" > /dev/null 2>&1; }
# close A B TOL: every value of /model/final of A and B within TOL (absolute)
close() { h5diff -d "$3" "$1" "$2" /model/final /model/final > "$TMP/diff.log" 2>&1 || { head -5 "$TMP/diff.log"; return 1; }; }
# ranks123 NAME [--set ...]: 1 rank == 2 ranks == 3 ranks
ranks123() {
  local name=$1 r; shift
  run1 $name-1 "$@"
  for r in 2 3; do
    run_mpi $r run "$S" --quiet -o "$TMP/$name-$r.h5" "$@" > "$TMP/$name.log" 2>&1 || cat "$TMP/$name.log"
    check "$name: $r ranks == 1 rank" "$HETFL" compare "$TMP/$name-1.h5" "$TMP/$name-$r.h5"
  done
}

for model in cnn resnet; do
  M=(); [ $model = resnet ] && M=("${RESNET[@]}")
  run1 $model-avg "${M[@]}"
  run1 $model-fj1 "${M[@]}" --set federation.strategy=fjord --set fjord.widths=1.0
  check "$model: fjord with one tier 1.0 == fedavg (augmented), bitwise" \
    same "$TMP/$model-avg.h5" "$TMP/$model-fj1.h5" --ignore-key federation.strategy --ignore-key fjord.widths
  run1 $model-df1 "${M[@]}" "${FEDDF[@]}" --set feddf.groups=a --set feddf.steps=0
  check "$model: feddf with one group a, no distillation == fedavg (augmented), bitwise" \
    same "$TMP/$model-avg.h5" "$TMP/$model-df1.h5" --ignore-key federation.strategy --ignore-key feddf.groups \
    --ignore-key feddf.steps
done
run1 cnn-noaug --set data.augment=none
check "cnn: the augmentation changes the model (the checks above can fail)" \
  differ "$TMP/cnn-avg.h5" "$TMP/cnn-noaug.h5" --ignore-key data.augment
run1 dpsgd --set federation.mode=decentralized
run1 dkt1 "${DKT[@]}" --set heterofl.levels=a --set dkt.steps=0 --set heterofl.masked_loss=no \
  --set heterofl.label_split=no
check "cnn: dkt at width 1, no distillation, no masked loss == D-PSGD within 1e-5" close "$TMP/dpsgd.h5" "$TMP/dkt1.h5" 1e-5

ranks123 cnn-feddf "${FEDDF[@]}"
ranks123 resnet-feddf "${RESNET[@]}" "${FEDDF[@]}"
ranks123 cnn-dkt "${DKT[@]}"
ranks123 resnet-dkt "${RESNET[@]}" "${DKT[@]}"
# HeteroFL (levels a-c) and FjORD (self-distillation) on the CNN on 1, 2 and 3
# ranks (on the ResNet: tests/resnet.sh)
ranks123 cnn-heterofl --set federation.strategy=heterofl
ranks123 cnn-fjord-kd --set federation.strategy=fjord --set fjord.kd=yes
run1 cnn-dkt0 "${DKT[@]}" --set dkt.steps=0
check "cnn: dkt's distillation changes the model (the rank checks compare distilled runs)" \
  differ "$TMP/cnn-dkt-1.h5" "$TMP/cnn-dkt0.h5" --ignore-key dkt.steps
check "cnn: feddf's distillation changes the model" \
  differ "$TMP/cnn-feddf-1.h5" "$TMP/cnn-df1.h5" --ignore-key feddf.groups --ignore-key feddf.steps

# resume: a checkpoint at round 2 of 3 written on 2 ranks, resumed on 3
resume() {  # NAME [--set ...]
  local name=$1; shift
  local R=(--set federation.rounds=3 --set run.checkpoint_every=2)
  if run_mpi 2 run "$S" --quiet -o "$TMP/$name-r.h5" "${R[@]}" "$@" > "$TMP/$name-r.log" 2>&1; then
    cp "$TMP/$name-r.h5" "$TMP/$name-r3.h5"
    run_mpi 3 run "$S" --quiet "${R[@]}" "$@" --resume "$TMP/$name-r3.h5" > "$TMP/$name-r.log" 2>&1 ||
      { cat "$TMP/$name-r.log"; bad "$name: --resume on 3 ranks"; return; }
    check "$name: resumed from round 2 on 3 ranks == uninterrupted" "$HETFL" compare "$TMP/$name-r.h5" "$TMP/$name-r3.h5"
  else cat "$TMP/$name-r.log"; bad "$name: reference run"; fi
}
resume cnn-feddf "${FEDDF[@]}"
resume resnet-dkt "${RESNET[@]}" "${DKT[@]}"
finish
