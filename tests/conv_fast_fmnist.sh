#!/usr/bin/env bash
# model.conv = fast on the McMahan CNN (narrow: 4,8,16 channels; conv2 Winograd) on
# Fashion-MNIST (one input channel: conv1 runs the direct kernel,
# kernels/conv_direct.c):
#   - bitwise identical results on 1, 2 and 3 ranks (the determinism contract);
#   - other bits than model.conv = gemm (the fast path ran), the same model to
#     float rounding: /model/final within 1e-4 of gemm's after 2 rounds;
#   - model.conv = gemm given explicitly == the key left out (the default).
. "$(dirname "$0")/lib.sh"
need_fmnist
S=$HETFL_SRCDIR/tests/data/tiny.conf
CNN=(--set model.arch=cnn --set model.hidden=4,8,16 --set data.train_samples=600 --set federation.clients=6
     --set federation.clients_per_round=3 --set federation.rounds=2 --set federation.batch_size=5)
ranks_equal fast "$S" "${CNN[@]}" --set model.conv=fast
run_mpi 1 run "$S" --quiet -o "$TMP/gemm.h5" "${CNN[@]}" --set model.conv=gemm > "$TMP/log" 2>&1 || cat "$TMP/log"
run_mpi 1 run "$S" --quiet -o "$TMP/default.h5" "${CNN[@]}" > "$TMP/log" 2>&1 || cat "$TMP/log"
check "model.conv = gemm == the default, bitwise" "$HETFL" compare "$TMP/default.h5" "$TMP/gemm.h5" --ignore-key model.conv
check "model.conv = fast: other bits than gemm" \
  bash -c "! h5diff '$TMP/gemm.h5' '$TMP/fast-1.h5' /model/final /model/final > /dev/null 2>&1"
check "model.conv = fast: /model/final within 1e-4 of gemm's" \
  h5diff -d 1e-4 "$TMP/gemm.h5" "$TMP/fast-1.h5" /model/final /model/final
finish
