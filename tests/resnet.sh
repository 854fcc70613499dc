#!/usr/bin/env bash
# The resnet model end to end (issue 16): short runs on CIFAR-10 binary files
# in the published layout (written by tests/test_datasets --write) with the
# crop + flip augmentation are bitwise identical on 1, 2 and 3 ranks and
# across --resume, for
# FedAvg and for HeteroFL's and FjORD's width sub-models, and with static
# batch norm under HeteroFL (whose statistics' samples change the evaluation
# only; the strategies it cannot serve are refused); the two ResNet paper
# suites run on the sample files and, without their data, exit 2 saying where
# to get it; augmentation and the resnet refuse non-image data with exit 2.
# Minutes in the regular build, many more under the sanitizers, where
# test_nn's resnet suite and test_slice cover its kernels: skipped there.
. "$(dirname "$0")/lib.sh"
skip_if_sanitized
D=$TMP/data
write_sample_data "$D"

cat > "$TMP/rn.conf" <<EOC
[run]
name = rn
[data]
dataset = cifar10
path = $D/cifar-10-batches-bin
partition = dirichlet
min_samples = 5
augment = crop-flip
[model]
arch = resnet
hidden = 4,8,8,8
depth = 10
norm = group
[federation]
clients = 4
clients_per_round = 3
rounds = 2
batch_size = 5
lr = 0.05
momentum = 0.9
eval_every = 1
EOC
runs() { local name=$1; shift; ranks_equal "$name" "$TMP/rn.conf" "$@"; }  # NAME [--set ...]
runs resnet10-group-augment
runs resnet18-none --set model.depth=18 --set model.norm=none --set data.augment=none
runs heterofl --set federation.strategy=heterofl --set federation.momentum=0
runs fjord --set federation.strategy=fjord --set federation.momentum=0
# static batch norm under HeteroFL (widths 1 and 1/2): the global and every
# width's evaluation recompute their statistics from model.norm_samples
# training samples, so width 1's row is the global evaluation, bit for bit
BN="--set model.norm=static-bn --set federation.strategy=heterofl --set federation.momentum=0 --set heterofl.levels=a-b"
# shellcheck disable=SC2086
runs static-bn-heterofl $BN
check "static-bn: width 1's evaluation = the global one" test \
  "$(cols -x "$TMP/static-bn-heterofl-1.h5" /rounds_by_width width test_loss | awk '$1 == 1 {print $2}')" = \
  "$(cols -x "$TMP/static-bn-heterofl-1.h5" /rounds test_loss)"
# those samples change the evaluation, never the training
# shellcheck disable=SC2086
run_mpi 1 run "$TMP/rn.conf" --quiet -o "$TMP/bn5.h5" $BN --set model.norm_samples=5 > /dev/null 2>&1
check "static-bn: model.norm_samples leaves the training loss alone" test \
  "$(cols -x "$TMP/bn5.h5" /rounds train_loss)" = "$(cols -x "$TMP/static-bn-heterofl-1.h5" /rounds train_loss)"
check "static-bn: model.norm_samples changes the test loss" test \
  "$(cols -x "$TMP/bn5.h5" /rounds test_loss)" != "$(cols -x "$TMP/static-bn-heterofl-1.h5" /rounds test_loss)"
# augmentation is on the training path: without it the model differs
run_mpi 1 run "$TMP/rn.conf" --quiet -o "$TMP/noaug.h5" --set data.augment=none > /dev/null 2>&1
check "augmentation changes the trained model" bash -c '! "$0" compare "$1" "$2" > /dev/null 2>&1' \
  "$HETFL" "$TMP/resnet10-group-augment-1.h5" "$TMP/noaug.h5"

# --resume from the checkpoint of round 2 (on 3 ranks, the run on 2) redoes
# round 3 with its augmentation: the same file as the uninterrupted run
R="--set federation.rounds=3 --set run.checkpoint_every=2"
# shellcheck disable=SC2086
if run_mpi 2 run "$TMP/rn.conf" --quiet -o "$TMP/res.h5" $R > "$TMP/res.log" 2>&1; then
  cp "$TMP/res.h5" "$TMP/res2.h5"
  # shellcheck disable=SC2086
  run_mpi 3 run "$TMP/rn.conf" --quiet $R --resume "$TMP/res2.h5" > "$TMP/res2.log" 2>&1 ||
    { cat "$TMP/res2.log"; bad "resume: --resume on 3 ranks"; }
  check "resume: checkpoint at round 2 resumed on 3 ranks = uninterrupted" "$HETFL" compare "$TMP/res.h5" "$TMP/res2.h5"
  check "resume: 3 rounds, no leftover rows" test "$(nrows "$TMP/res2.h5" /rounds)" = 3
else
  cat "$TMP/res.log"; bad "resume: reference run"
fi

# bad inputs: every rank exits 2 naming the key, no results file
badrun() {  # NAME EXPECT [--set ...]
  local name=$1 want=$2; shift 2
  run_mpi 2 run "$TMP/rn.conf" --quiet -o "$TMP/$name.h5" "$@" > /dev/null 2> "$TMP/$name.err"; local rc=$?
  check "$name: exit 2 (got $rc)" test "$rc" = 2
  check "$name: message '$want'" grep -q -- "$want" "$TMP/$name.err"
  check "$name: no results file" test ! -e "$TMP/$name.h5"
}
badrun aug-text "key 'data.augment': crop-flip needs image data" --set data.dataset=shakespeare \
  --set data.path="$D/shakespeare.json" --set data.partition=natural --set model.arch=mlp --set model.hidden=8 \
  --set federation.clients=2 --set federation.clients_per_round=2
badrun resnet-vector "key 'model.arch': resnet needs image data" --set data.dataset=synthetic --set data.augment=none
badrun resnet-widths "key 'model.hidden'" --set model.hidden=4,8,8
badrun resnet-depth "key 'model.depth'" --set model.depth=8
badrun bn-ditto "key 'model.norm': static-bn recomputes its statistics for the global and per-width evaluation only, not for ditto" \
  --set model.norm=static-bn --set federation.strategy=ditto
badrun bn-fjord-kd "key 'model.norm': static-bn .* not for fjord.kd" --set model.norm=static-bn \
  --set federation.strategy=fjord --set fjord.kd=yes --set federation.momentum=0
badrun heterofl-scaler "key 'heterofl.scaler'" --set federation.strategy=heterofl --set model.norm=none --set heterofl.scaler=yes

# the paper suites: one short round on the sample files, and exit 2 with a
# HINT saying where to get the data when it is absent
small="--set model.hidden=4,8,8,8 --set federation.rounds=1 --set federation.clients=4 --set federation.clients_per_round=2 --set federation.eval_every=1"
(cd "$TMP" && "$HETFL" run "$HETFL_SRCDIR/suites/cifar10-resnet.conf" --quiet -o "$TMP/s1.h5" \
   --set data.path="$D/cifar-10-batches-bin" $small --set data.min_samples=5 > "$TMP/s1.log" 2>&1)
check "cifar10-resnet runs on the sample files" test -s "$TMP/s1.h5"
(cd "$TMP" && "$HETFL" run "$HETFL_SRCDIR/suites/cifar100-tff.conf" --quiet -o "$TMP/s2.h5" \
   --set data.path="$D/fed_cifar100_train.h5" --set data.test_path="$D/fed_cifar100_test.h5" $small > "$TMP/s2.log" 2>&1)
check "cifar100-tff runs on the sample files" test -s "$TMP/s2.h5"
for s in cifar10-resnet cifar100-tff; do
  (cd "$TMP" && "$HETFL" run "$HETFL_SRCDIR/suites/$s.conf" --quiet -o "$TMP/$s.h5" \
     --set data.path="$TMP/absent/x" --set data.test_path="$TMP/absent/y") > /dev/null 2> "$TMP/$s.err"; rc=$?
  check "$s without data: exit 2 (got $rc)" test "$rc" = 2
  check "$s without data: says where to get it" grep -q "HINT: .*\(cifar-10-binary\|fed_cifar100\)" "$TMP/$s.err"
  check "$s without data: no results file" test ! -e "$TMP/$s.h5"
done
finish
