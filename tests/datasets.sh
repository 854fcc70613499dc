#!/usr/bin/env bash
# The data sets of FL papers end to end (issue 16): small files in each exact
# published layout (written by tests/test_datasets --write: CIFAR-10/100 binary,
# LEAF FEMNIST and Shakespeare JSON, TFF fed_emnist / fed_cifar100 / shakespeare
# HDF5, the generic HDF5 layout) train in short runs that are bitwise identical
# on 1, 2 and 3 ranks; bad files make every rank exit 2 naming the file and the
# record or group; the paper suites say how to get their data when it is absent.
. "$(dirname "$0")/lib.sh"
D=$TMP/data
write_sample_data "$D"

base() {  # NAME DATASET PATH ARCH CLIENTS PARTITION [more --set]
  local name=$1 ds=$2 path=$3 arch=$4 cl=$5 part=$6; shift 6
  cat > "$TMP/$name.conf" <<EOC
[run]
name = $name
[data]
dataset = $ds
path = $path
partition = $part
[model]
arch = $arch
[federation]
clients = $cl
clients_per_round = 2
rounds = 2
batch_size = 5
lr = 0.05
eval_every = 1
EOC
}
runs() { local name=$1; shift; ranks_equal "$name" "$TMP/$name.conf" "$@"; }  # NAME [--set ...]

base cifar10 cifar10 "$D/cifar-10-batches-bin" cnn 4 dirichlet
runs cifar10 --set model.hidden=4,8,16 --set data.min_samples=5
base cifar100 cifar100 "$D" mlp 4 iid
runs cifar100 --set model.hidden=32 --set data.coarse_labels=yes
base femnist femnist "$D/femnist.json" cnn 2 natural
runs femnist --set model.hidden=4,8,16
base shakes shakespeare "$D/shakespeare.json" mlp 2 natural
runs shakes --set model.hidden=16 --set data.holdout=0.4 --set federation.batch_size=1
base tffem tff "$D/fed_emnist_train.h5" logreg 4 natural
runs tffem --set data.test_path="$D/fed_emnist_test.h5"
base tffc100 tff "$D/fed_cifar100_train.h5" mlp 4 natural
runs tffc100 --set data.test_path="$D/fed_cifar100_test.h5" --set model.hidden=16
base tffsh tff "$D/shakespeare_train.h5" logreg 3 natural
runs tffsh --set federation.batch_size=2 --set data.holdout=0.3
base generic hdf5 "$D/generic.h5" mlp 6 natural
runs generic --set model.hidden=16

# the stored data: /config names the data set; the CIFAR model saw 3x32x32 inputs
if [ -n "${H5DUMP:-}" ] && [ "$H5DUMP" != no ]; then
  check "cifar10: conv1 weight is (4,3,5,5)" bash -c '"$0" -A -d /model/final/00_conv1.weight "$1" | grep -q "( 4, 3, 5, 5 )"' \
    "$H5DUMP" "$TMP/cifar10-1.h5"
fi

# bad files: every rank exits 2, the message names the file and the record or group
badrun() {  # NAME EXPECT DATASET PATH
  base "$1" "$3" "$4" logreg 2 iid
  run_mpi 2 run "$TMP/$1.conf" --quiet -o "$TMP/$1.h5" > "$TMP/$1.out" 2> "$TMP/$1.err"; local rc=$?
  check "$1: exit 2 (got $rc)" test "$rc" = 2; [ "$rc" = 2 ] || head -c 600 "$TMP/$1.err"
  check "$1: message '$2'" grep -Eq -- "$2" "$TMP/$1.err"
  check "$1: no results file" test ! -e "$TMP/$1.h5"
}
badrun bad-cifar "bad-cifar/data_batch_3.bin: record 1 is truncated" cifar10 "$D/bad-cifar"
badrun bad-tff "fed_emnist_bad.h5: examples/f0099_01/label: sample 1: label 62 out of range" tff "$D/fed_emnist_bad.h5"
mkdir -p "$TMP/dirs/cifar-10-batches-bin/data_batch_1.bin"
badrun bad-dir2 "data_batch_1.bin: not a regular file" cifar10 "$TMP/dirs"
echo "not hdf5" > "$TMP/generic.h5.txt"
badrun bad-h5b "generic.h5.txt: not a readable HDF5 file" hdf5 "$TMP/generic.h5.txt"

# tools/hetfl-npz2h5.py: a .npz (channels-last images, client ids) into the generic layout
PY=
for py in python3 /usr/bin/python3; do
  "$py" -c 'import numpy, h5py' 2> /dev/null && { PY=$py; break; }
done
if [ -n "$PY" ]; then
  "$PY" - "$TMP/in.npz" <<'EOP'
import sys, numpy as np
r = np.arange(60 * 5 * 5 * 3) % 251
x = r.reshape(60, 5, 5, 3).astype(np.uint8)
np.savez(sys.argv[1], x_train=x[:50], y_train=np.arange(50) % 4, cid=(np.arange(50) * 7) % 5,
         x_test=x[50:], y_test=np.arange(10) % 4)
EOP
  check "npz2h5: converts" "$PY" "$HETFL_SRCDIR/tools/hetfl-npz2h5.py" "$TMP/in.npz" "$TMP/npz.h5" \
    --channels-last --clients cid
  base npz hdf5 "$TMP/npz.h5" mlp 5 natural
  runs npz --set model.hidden=8
  check "npz2h5: channels-last became (N,C,H,W)" bash -c \
    '"$0" -c "import h5py,sys; f=h5py.File(sys.argv[1]); assert f[\"inputs\"].shape==(50,3,5,5); assert f[\"inputs\"][1,2,0,1]==(1*75+0*15+1*3+2)%251" "$1"' \
    "$PY" "$TMP/npz.h5"
else
  echo "# npz2h5 not checked: no python3 with numpy and h5py (apt-get install python3-h5py)"
fi

# the paper suites without their data: exit 2 and say where to get it
for s in femnist-cnn shakespeare-lstm; do
  f=$HETFL_SRCDIR/suites/$s.conf
  [ -f "$f" ] || { bad "suite $s.conf exists"; continue; }
  (cd "$TMP" && "$HETFL" run "$f" --quiet -o "$TMP/$s.h5" --set data.path="$TMP/absent/train.json" \
     --set data.test_path="$TMP/absent/test.json") > /dev/null 2> "$TMP/$s.err"; rc=$?
  check "$s without data: exit 2 (got $rc)" test "$rc" = 2
  check "$s without data: says where to get it" grep -q "HINT: .*github.com/TalwalkarLab/leaf" "$TMP/$s.err"
done
finish
