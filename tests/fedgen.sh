#!/usr/bin/env bash
# FedGen (src/strategies/fedgen.c) end to end, on tiny.conf made non-IID
# (Dirichlet 0.3: unequal client sizes and label mixes), generator Z = 8, H = 16:
#  - fedgen.alpha = 0, and alpha_decay = 0 (α_t = 0 from the second round on,
#    before which no generator exists), give FedAvg's model and accuracies bit for bit;
#  - what leaves and reaches a client, by hand: every kept upload is FedAvg's
#    4P bytes + 10 int32 label counts (P = 784·32 + 32 + 32·10 + 10 = 25450:
#    101800 + 40); from round 2 on each selected client downloads the model,
#    G (16·(8+10) + 16 + 32·16 + 32 = 848 floats) and p̂ (10 floats):
#    7 · (101800 + 3392 + 40) = 736624 bytes a round, round 1 7 · 101800;
#  - the regulariser's FLOPs priced: from round 2 on every client's simulated
#    compute time is FedAvg's × (1 + 32·(2·16·9 + 2·32·16 + 6·10·32) /
#    (16 · 3 · 2 · (784·32 + 32·10))) = 1 + 103424/2439168;
#  - 1/2/3 ranks bitwise, SIGTERM + --resume on another rank count bitwise;
#  - the CNN (head: the output layer on its fully connected layer): alpha = 0
#    is FedAvg bit for bit there too;
#  - bad keys: exit 2 with FILE:LINE: key '...'.
. "$(dirname "$0")/lib.sh"
need_fmnist
S=$HETFL_SRCDIR/tests/data/tiny.conf
B=(--set data.partition=dirichlet --set data.alpha=0.3 --set federation.rounds=4)
G=("${B[@]}" --set federation.strategy=fedgen --set fedgen.hidden=16 --set fedgen.noise_dim=8)

"$HETFL" run "$S" --quiet -o "$TMP/avg.h5" "${B[@]}" > /dev/null 2>&1
check "fedavg runs" test $? = 0
same_as_fedavg() {
  h5diff "$TMP/avg.h5" "$1" /model/final /model/final > /dev/null 2>&1 &&
    diff <(cols -x "$TMP/avg.h5" /rounds test_accuracy test_loss train_loss) \
         <(cols -x "$1" /rounds test_accuracy test_loss train_loss) > /dev/null
}
"$HETFL" run "$S" --quiet -o "$TMP/a0.h5" "${G[@]}" --set fedgen.alpha=0 > /dev/null 2>&1
check "fedgen alpha=0 = fedavg bitwise (model, accuracy, losses)" same_as_fedavg "$TMP/a0.h5"
"$HETFL" run "$S" --quiet -o "$TMP/d0.h5" "${G[@]}" --set fedgen.alpha_decay=0 > /dev/null 2>&1
check "fedgen alpha_decay=0 = fedavg bitwise" same_as_fedavg "$TMP/d0.h5"

# the CNN: the head is its output layer on the fully connected layer's 32 units
CNN=(--set model.arch=cnn --set model.hidden=4,8,32 --set federation.rounds=3)
"$HETFL" run "$S" --quiet -o "$TMP/cnnavg.h5" "${B[@]}" "${CNN[@]}" > /dev/null 2>&1
"$HETFL" run "$S" --quiet -o "$TMP/cnn0.h5" "${G[@]}" "${CNN[@]}" --set fedgen.alpha=0 > /dev/null 2>&1
check "CNN: fedgen alpha=0 = fedavg bitwise" h5diff "$TMP/cnnavg.h5" "$TMP/cnn0.h5" /model/final /model/final

"$HETFL" run "$S" --quiet -o "$TMP/r1.h5" "${G[@]}" > /dev/null 2>&1
check "fedgen alpha=10: runs" test $? = 0
check "alpha=10 changes the model (differs from fedavg by > 1e-4)" \
  bash -c "! h5diff -d 1e-4 '$TMP/avg.h5' '$TMP/r1.h5' /model/final /model/final > /dev/null 2>&1"
bytes_ok() {
  paste -d' ' <(cols "$TMP/avg.h5" /participation round client bytes_up) <(cols "$1" /participation bytes_up) |
    awk '{ if ($4 != $3 + 40) bad = 1; n++ } END { exit bad || n != 28 }' &&
  diff <(cols "$1" /rounds bytes_down) <(printf '%s\n' "$2" "$3" "$3" "$3") > /dev/null
}
check "uploads: fedavg's + 40 bytes of label counts; downloads + G and p-hat from round 2" \
  bytes_ok "$TMP/r1.h5" 712600 736624
check "alpha=0: uploads + 40 bytes, downloads as fedavg (no generator sent)" bytes_ok "$TMP/a0.h5" 712600 712600
priced() {
  paste -d' ' <(cols -x "$TMP/avg.h5" /participation round compute_s_model) <(cols -x "$TMP/r1.h5" /participation compute_s_model) |
    awk '{ want = $1 == 1 ? $2 : $2 * (1 + 103424 / 2439168); d = $3 - want
           if (d < 0) d = -d; if (d > 1e-12 * want) { bad = 1; print } n++ } END { exit bad || n != 28 }'
}
check "regulariser FLOPs priced: compute_s_model x (1 + 103424/2439168) from round 2" priced

# determinism and resume: 10 rounds, so that SIGTERM lands mid-run
D=("${G[@]}" --set federation.rounds=10 --set run.checkpoint_every=1)
"$HETFL" run "$S" --quiet -o "$TMP/d1.h5" "${D[@]}" > /dev/null 2>&1
run_mpi 2 run "$S" --quiet -o "$TMP/d2.h5" "${D[@]}" > /dev/null 2>&1
check "2 ranks = 1 rank" "$HETFL" compare "$TMP/d1.h5" "$TMP/d2.h5"
run_mpi 3 run "$S" --quiet -o "$TMP/d3.h5" "${D[@]}" --set aggregation.topology=allreduce > /dev/null 2>&1
check "3 ranks, allreduce = 1 rank" "$HETFL" compare "$TMP/d1.h5" "$TMP/d3.h5"

# SIGTERM once round 2 is printed (G trained, p-hat set): exit 3; resume on 2 ranks
"$HETFL" run "$S" -o "$TMP/term.h5" "${D[@]}" > "$TMP/term.log" 2>&1 & pid=$!
wait_round 2 "$TMP/term.log"
kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM: exit 3 (got $rc)" test $rc = 3
run_mpi 2 run "$S" --quiet --resume "$TMP/term.h5" "${D[@]}" > "$TMP/resume.log" 2>&1
check "resume on 2 ranks: exit 0" test $? = 0
check "resumed run = uninterrupted run" "$HETFL" compare "$TMP/d1.h5" "$TMP/term.h5"

bad_key() {  # KEY LINE VALUE [SECTION]: exit 2, "FILE:LINE: key 'KEY'"
  printf '[federation]\nstrategy = fedgen\n[%s]\n%s = %s\n' "${4:-fedgen}" "${1#*.}" "$3" > "$TMP/bad.conf"
  "$HETFL" run "$TMP/bad.conf" --quiet -o "$TMP/bad.h5" > "$TMP/bad.log" 2>&1
  local rc=$?
  [ $rc = 2 ] && grep -q "bad.conf:$2: key '$1'" "$TMP/bad.log" && [ ! -e "$TMP/bad.h5" ]
}
check "fedgen.alpha = -1: exit 2, FILE:LINE" bad_key fedgen.alpha 4 -1
check "fedgen.gen_batch = 0: exit 2" bad_key fedgen.gen_batch 4 0
check "fedgen.alpha_decay = 2: exit 2" bad_key fedgen.alpha_decay 4 2
check "fedgen.hidden = x: exit 2" bad_key fedgen.hidden 4 x
check "server.optimizer = adam with fedgen: exit 2" bad_key server.optimizer 4 adam server
finish
