#!/usr/bin/env bash
# The resnet's logits and gradients against PyTorch on fixed exported weights
# (tests/resnet_torch.py), for norm none, group and static-bn (batch statistics in training, statistics
# recomputed on calibration samples in evaluation), model.conv gemm and fast; skipped (77) when
# /usr/bin/python3 has no torch (Debian: apt-get install python3-torch).
. "$(dirname "$0")/lib.sh"
NN=$(dirname "$HETFL")/tests/test_nn
[ -x "$NN" ] || { echo "SKIP: $NN not built (make check builds it)"; exit 77; }
PY=/usr/bin/python3
"$PY" -c 'import torch, numpy' 2> /dev/null ||
  { echo "SKIP: $PY has no torch (apt-get install python3-torch)"; exit 77; }
# model.conv = gemm (im2col) and fast (Winograd for the 3x3 stride-1 convolutions)
for conv in gemm fast; do
  for norm in none group static-bn; do
    d=$TMP/$conv-$norm
    mkdir -p "$d"
    check "export ($norm, $conv)" "$NN" --resnet-export "$d" "$norm" $([ $conv = fast ] && echo fast)
    check "logits and gradients within 1e-4 of PyTorch ($norm, $conv)" "$PY" "$HETFL_SRCDIR/tests/resnet_torch.py" "$d" "$norm"
  done
done
finish
