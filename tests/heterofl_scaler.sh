#!/usr/bin/env bash
# heterofl.scaler's default (hetero.c, scaler_on): auto = no for the MLP (no
# normalisation layer), where the authors' Scaler makes the e-only 2NN
# collapse to chance.  tiny.conf with a 2NN 200-200, every client at width
# 1/16 (12 units a layer), E = 2, 20 rounds:
#  - the default is scaler = no bit for bit;
#  - the width-1/16 model's test accuracy at round 20 is above chance (0.1,
#    ten classes) by more than 0.35 (measured here: 0.607 with auto; 0.1015,
#    chance, with scaler = yes);
#  - heterofl.scaler = maybe: exit 2.
. "$(dirname "$0")/lib.sh"
need_fmnist
S=$HETFL_SRCDIR/tests/data/tiny.conf
A=(--set model.hidden=200,200 --set federation.strategy=heterofl --set heterofl.levels=e
   --set federation.rounds=20 --set federation.eval_every=10 --set federation.local_epochs=2)
"$HETFL" run "$S" --quiet -o "$TMP/auto.h5" "${A[@]}" > /dev/null 2>&1
check "e-only 2NN, default scaler: runs" test $? = 0
"$HETFL" run "$S" --quiet -o "$TMP/no.h5" "${A[@]}" --set heterofl.scaler=no > /dev/null 2>&1
check "default (auto) = scaler no for the MLP, bitwise" h5diff "$TMP/auto.h5" "$TMP/no.h5" /model/final /model/final
acc=$(cols "$TMP/auto.h5" /rounds_by_width round width test_accuracy | awk '$1 == 20 && $2 == 0.0625 { print $3 }')
check "width 1/16 accuracy at round 20 ($acc) > chance 0.1 + 0.35" awk -v a="${acc:-0}" 'BEGIN { exit !(a > 0.45) }'
"$HETFL" run "$S" --quiet -o "$TMP/bad.h5" "${A[@]}" --set heterofl.scaler=maybe > "$TMP/bad.log" 2>&1
rc=$?
check "heterofl.scaler = maybe: exit 2 (got $rc)" bash -c "[ $rc = 2 ] && grep -q \"key 'heterofl.scaler'\" '$TMP/bad.log'"
finish
