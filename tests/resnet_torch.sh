#!/usr/bin/env bash
# The resnet's logits and gradients against PyTorch on fixed exported weights
# (tests/resnet_torch.py), for norm none, group and static-bn (batch statistics in training, statistics
# recomputed on calibration samples in evaluation); skipped (77) when
# /usr/bin/python3 has no torch (Debian: apt-get install python3-torch).
. "$(dirname "$0")/lib.sh"
NN=$(dirname "$HETFL")/tests/test_nn
[ -x "$NN" ] || { echo "SKIP: $NN not built (make check builds it)"; exit 77; }
PY=/usr/bin/python3
"$PY" -c 'import torch, numpy' 2> /dev/null ||
  { echo "SKIP: $PY has no torch (apt-get install python3-torch)"; exit 77; }
for norm in none group static-bn; do
  mkdir -p "$TMP/$norm"
  check "export ($norm)" "$NN" --resnet-export "$TMP/$norm" "$norm"
  check "logits and gradients within 1e-4 of PyTorch ($norm)" "$PY" "$HETFL_SRCDIR/tests/resnet_torch.py" "$TMP/$norm" "$norm"
done
finish
