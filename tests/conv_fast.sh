#!/usr/bin/env bash
# model.conv = fast (Winograd: kernels/winograd.c) end to end: short runs of a
# ResNet-10 (group norm, and static batch norm under HeteroFL) and of the CNN
# on CIFAR-10 sample files are bitwise identical on 1, 2 and 3 ranks; fast
# trains a different model (other bits) than gemm, close to it.  Seconds.
. "$(dirname "$0")/lib.sh"
skip_if_sanitized
D=$TMP/data
write_sample_data "$D"
cat > "$TMP/f.conf" <<EOC
[data]
dataset = cifar10
path = $D/cifar-10-batches-bin
partition = dirichlet
min_samples = 5
train_samples = 150
[model]
arch = resnet
hidden = 8,16,16,16
depth = 10
norm = group
conv = fast
[federation]
clients = 4
clients_per_round = 3
rounds = 2
batch_size = 5
lr = 0.05
eval_every = 1
EOC
CNN=(--set model.arch=cnn --set model.hidden=4,8,16)
ranks_equal resnet10-fast "$TMP/f.conf"
ranks_equal resnet10-static-bn-fast "$TMP/f.conf" --set model.norm=static-bn --set federation.strategy=heterofl \
  --set heterofl.levels=a-b
ranks_equal cnn-fast "$TMP/f.conf" "${CNN[@]}"
# one round on 1 rank, fast and gemm: other bits, the same model within 1e-4
# (norm none: group norm's small groups amplify last-bit differences on these
# synthetic images, to 1e-3 in the weights after two rounds, measured)
ONE=(--set federation.rounds=1 --set model.norm=none)
for m in resnet10 cnn; do
  args=()
  [ $m = cnn ] && args=("${CNN[@]}")
  for conv in fast gemm; do
    run_mpi 1 run "$TMP/f.conf" --quiet -o "$TMP/$m-1r-$conv.h5" --set model.conv=$conv "${ONE[@]}" "${args[@]}" \
      > "$TMP/g.log" 2>&1 || { cat "$TMP/g.log"; bad "$m: $conv run"; }
  done
  check "$m: fast's model differs from gemm's" bash -c 'h5diff -q "$0" "$1" /model/final /model/final; [ $? = 1 ]' \
    "$TMP/$m-1r-fast.h5" "$TMP/$m-1r-gemm.h5"
  check "$m: fast's model within 1e-4 of gemm's" h5diff -d 1e-4 "$TMP/$m-1r-fast.h5" "$TMP/$m-1r-gemm.h5" \
    /model/final /model/final
done
finish
