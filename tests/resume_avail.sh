#!/usr/bin/env bash
# Checkpoint and resume with availability on (issue 5; mirrors tests/resume.sh): the
# selection and estimator state (Bayesian availability counts and estimates, power-of-
# choice losses, F3AST rates, CA-Fed allocation; select.c hf_select_ckpt_register) and
# data transfer to participants survive a checkpoint, so --resume (with another rank
# count) gives a file identical to an uninterrupted run:
#  - SIGKILL at a random round (poc + unbiased + availability.transfer), resume on 3 ranks;
#  - SIGTERM → exit 3 (f3ast), resume on 2 ranks;
#  - a finished file resumed from its last checkpoint (round 10 of 12) redoes rounds 11-12
#    (cafed): timing-independent, and fails if any of that state is not restored.
. "$(dirname "$0")/lib.sh"
S=$HETFL_SRCDIR/suites/availability-bias.conf
R=12
ARGS=(--set federation.rounds=$R --set federation.local_epochs=40 --set availability.slot_s=2
      --set run.checkpoint_every=3)
same() { "$HETFL" compare "$1" "$2" > "$TMP/cmp.log" 2>&1 || { cat "$TMP/cmp.log"; return 1; }; }

# 1. SIGKILL at a random round; power-of-choice (last losses), unbiased (estimator), transfer
A1=("${ARGS[@]}" --set selection.policy=poc --set aggregation.correction=unbiased
    --set availability.transfer=yes)
"$HETFL" run "$S" --quiet -o "$TMP/ref1.h5" "${A1[@]}" > "$TMP/ref.log" 2>&1
check "reference: poc + unbiased + transfer" test $? = 0
K=$((3 + RANDOM % 4))
echo "# SIGKILL after round $K is printed"
"$HETFL" run "$S" -o "$TMP/kill.h5" "${A1[@]}" > "$TMP/kill.log" 2>&1 & pid=$!
wait_round $K "$TMP/kill.log"; kill -9 $pid; wait $pid; rc=$?
check "SIGKILL: killed (status $rc)" test $rc = 137
echo "# killed file: $(nrows "$TMP/kill.h5" /rounds) rows"
run_mpi 3 run "$S" --quiet "${A1[@]}" --resume "$TMP/kill.h5" > "$TMP/res.log" 2>&1; rc=$?
check "SIGKILL + --resume on 3 ranks: exit 0 (got $rc)" test $rc = 0
check "SIGKILL + --resume ≡ uninterrupted (poc, unbiased, transfer)" same "$TMP/ref1.h5" "$TMP/kill.h5"

# 2. SIGTERM → exit 3, F3AST participation rates; resume on 2 ranks
A2=("${ARGS[@]}" --set selection.policy=f3ast --set aggregation.correction=none)
"$HETFL" run "$S" --quiet -o "$TMP/ref2.h5" "${A2[@]}" > "$TMP/ref.log" 2>&1
check "reference: f3ast" test $? = 0
K=$((2 + RANDOM % 4))
echo "# SIGTERM after round $K is printed"
"$HETFL" run "$S" -o "$TMP/term.h5" "${A2[@]}" > "$TMP/term.log" 2> "$TMP/term.err" & pid=$!
wait_round $K "$TMP/term.log"; kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM: exit 3 (got $rc)" test $rc = 3
run_mpi 2 run "$S" --quiet "${A2[@]}" --resume "$TMP/term.h5" > "$TMP/res.log" 2>&1; rc=$?
check "SIGTERM + --resume on 2 ranks: exit 0 (got $rc)" test $rc = 0
check "SIGTERM + --resume ≡ uninterrupted (f3ast)" same "$TMP/ref2.h5" "$TMP/term.h5"

# 3. deterministic: a finished run (checkpoint at round 10) resumed on 2 ranks redoes rounds
# 11-12 from the restored estimator state (CA-Fed allocation from π̂, λ̂ and the losses)
A3=("${ARGS[@]}" --set run.checkpoint_every=5 --set selection.policy=uniform
    --set aggregation.correction=cafed --set availability.slot_s=0.05 --set federation.local_epochs=1)
"$HETFL" run "$S" --quiet -o "$TMP/ref3.h5" "${A3[@]}" > "$TMP/ref.log" 2>&1
check "reference: cafed" test $? = 0
cp "$TMP/ref3.h5" "$TMP/fin.h5"
run_mpi 2 run "$S" --quiet "${A3[@]}" --resume "$TMP/fin.h5" > "$TMP/res.log" 2>&1; rc=$?
check "finished file + --resume on 2 ranks: exit 0 (got $rc)" test $rc = 0
check "rounds 11-12 redone from the round-10 checkpoint ≡ uninterrupted (cafed)" \
  same "$TMP/ref3.h5" "$TMP/fin.h5"
check "resumed file has $R rows" test "$(nrows "$TMP/fin.h5" /rounds)" = $R
finish
