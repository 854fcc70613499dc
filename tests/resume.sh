#!/usr/bin/env bash
# Checkpoint and resume (DESIGN.md "Reliability"), overwrite protection:
#  - SIGKILL at a random round, then --resume (with another rank count) gives a
#    file identical to an uninterrupted run (hetfl compare + h5diff /model/final);
#  - SIGTERM → exit 3, a committed checkpoint whose rows match /rounds, resumable;
#  - SIGUSR1 to mpirun (forwarded to the ranks) → exit 3, resumable;
#  - a second signal exits at once, the file stays resumable;
#  - no checkpoint yet → resume restarts from round 0 in the same file;
#  - another seed / another key → refused, exit 2, file untouched;
#  - an existing results file is never overwritten without --force.
. "$(dirname "$0")/lib.sh"
need_fmnist
S=$HETFL_SRCDIR/tests/data/tiny.conf
R=12
ARGS=(--set federation.rounds=$R --set federation.local_epochs=3 --set model.hidden=100
      --set run.checkpoint_every=3)

attr() { "$H5DUMP" -a "$2" "$1" 2>/dev/null | sed -n 's/^ *(0): \(.*\)$/\1/p'; }
ckpt_round() { local c; c=$(attr "$1" /checkpoint/current); attr "$1" "/checkpoint/slot$c/round"; }
same() { "$HETFL" compare "$TMP/ref.h5" "$1" > "$TMP/cmp.log" 2>&1 || { cat "$TMP/cmp.log"; return 1; }; }

# reference: uninterrupted, one rank
"$HETFL" run "$S" --quiet -o "$TMP/ref.h5" "${ARGS[@]}" > "$TMP/ref.log" 2>&1
check "uninterrupted reference run" test $? = 0

# 1. SIGKILL at a random round (one rank), resume on 3 ranks
K=$((2 + RANDOM % (R - 4)))
echo "# SIGKILL after round $K is printed"
"$HETFL" run "$S" -o "$TMP/kill.h5" "${ARGS[@]}" > "$TMP/kill.log" 2>&1 & pid=$!
wait_round $K "$TMP/kill.log"; kill -9 $pid; wait $pid; rc=$?
check "SIGKILL: killed (status $rc)" test $rc = 137
check "SIGKILL: file readable by h5dump" "$H5DUMP" -H "$TMP/kill.h5" > /dev/null
n=$(nrows "$TMP/kill.h5" /rounds); c=$(ckpt_round "$TMP/kill.h5")
echo "# killed file: $n rows, checkpoint at round ${c:-none}"
check "SIGKILL: every completed round is in /rounds ($n >= $K)" test "${n:-0}" -ge $K
if [ -n "$c" ]; then
  check "SIGKILL: committed checkpoint at a multiple of 3 <= rows ($c)" \
    test "$c" -le "${n:-0}" -a $((c % 3)) = 0
else  # killed before the first checkpoint (round 3) was committed
  check "SIGKILL: no checkpoint only before round 3 was committed ($n rows)" test "${n:-0}" -le 3
fi
run_mpi 3 run "$S" --quiet "${ARGS[@]}" --resume "$TMP/kill.h5" > "$TMP/res.log" 2>&1; rc=$?
check "SIGKILL + --resume on 3 ranks: exit 0 (got $rc)" test $rc = 0
check "SIGKILL + --resume ≡ uninterrupted (hetfl compare)" same "$TMP/kill.h5"
if [ -n "${H5DIFF:-}" ] && [ "$H5DIFF" != no ]; then
  check "SIGKILL + --resume: h5diff /model/final" "$H5DIFF" "$TMP/ref.h5" "$TMP/kill.h5" /model/final
  check "SIGKILL + --resume: h5diff /config" "$H5DIFF" "$TMP/ref.h5" "$TMP/kill.h5" /config
fi
check "resumed file has no leftover rows ($(nrows "$TMP/kill.h5" /rounds) = $R)" test "$(nrows "$TMP/kill.h5" /rounds)" = $R

# 2. SIGTERM → exit 3, resumable (on 2 ranks, allreduce topology: allowed to differ)
K=$((1 + RANDOM % (R - 3)))
echo "# SIGTERM after round $K is printed"
"$HETFL" run "$S" -o "$TMP/term.h5" "${ARGS[@]}" > "$TMP/term.log" 2> "$TMP/term.err" & pid=$!
wait_round $K "$TMP/term.log"; kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM: exit 3 (got $rc)" test $rc = 3
check "SIGTERM: message" grep -Eq "stopped by SIGTERM after round [0-9]+ of $R; checkpoint written" "$TMP/term.err"
n=$(nrows "$TMP/term.h5" /rounds); c=$(ckpt_round "$TMP/term.h5")
check "SIGTERM: checkpoint at the last recorded round ($c = $n)" test "${c:-x}" = "${n:-y}"
check "SIGTERM: stopped at a round boundary after the signal ($n >= $K)" test "${n:-0}" -ge $K
run_mpi 2 run "$S" --quiet "${ARGS[@]}" --set aggregation.topology=allreduce --resume "$TMP/term.h5" \
  > "$TMP/res.log" 2>&1; rc=$?
check "SIGTERM + --resume on 2 ranks (allreduce): exit 0 (got $rc)" test $rc = 0
check "SIGTERM + --resume ≡ uninterrupted" same "$TMP/term.h5"

# 3. SIGUSR1 to mpirun (forwarded to every rank) → exit 3; resume on 3 ranks.  With
# state that lives beyond the model: SCAFFOLD control variates (per client, on the
# hosting rank), Adam server moments, energy budgets.
# (60 rounds and a budget most clients can pay for a while: the run must still be
# going when the signal arrives — tiny rounds take ~15 ms)
ST=(--set federation.strategy=scaffold --set federation.momentum=0 --set server.optimizer=adam
    --set server.lr=0.02 --set energy.budget_j=3 --set federation.rounds=60)
"$HETFL" run "$S" --quiet -o "$TMP/ref-st.h5" "${ARGS[@]}" "${ST[@]}" > "$TMP/ref.log" 2>&1
check "stateful reference run (scaffold, adam, budgets)" test $? = 0
"$MPIEXEC" -n 2 $OVERSUB "$HETFL" run "$S" -o "$TMP/usr1.h5" "${ARGS[@]}" "${ST[@]}" \
  --set run.checkpoint_every=0 > "$TMP/usr1.log" 2> "$TMP/usr1.err" & pid=$!
wait_round 2 "$TMP/usr1.log"; kill -USR1 $pid; wait $pid; rc=$?
check "SIGUSR1 via mpirun -n 2: exit 3 (got $rc)" test $rc = 3
check "SIGUSR1: message" grep -q "stopped by SIGUSR1" "$TMP/usr1.err"
check "SIGUSR1: checkpoint = rows" test "$(ckpt_round "$TMP/usr1.h5")" = "$(nrows "$TMP/usr1.h5" /rounds)"
run_mpi 3 run "$S" --quiet "${ARGS[@]}" "${ST[@]}" --resume "$TMP/usr1.h5" > "$TMP/res.log" 2>&1
check "SIGUSR1 + --resume on 3 ranks (scaffold, adam, budgets) ≡ uninterrupted" \
  "$HETFL" compare "$TMP/ref-st.h5" "$TMP/usr1.h5"

# 4. a second signal exits at once; the last committed checkpoint stays usable
# (slow rounds, and a pause so the kernel does not merge the two pending signals)
"$HETFL" run "$S" -o "$TMP/twice.h5" "${ARGS[@]}" --set federation.local_epochs=60 \
  > "$TMP/twice.log" 2>&1 & pid=$!
wait_round 4 "$TMP/twice.log"; kill -TERM $pid; sleep 0.05; kill -TERM $pid; wait $pid; rc=$?
check "second SIGTERM: immediate exit, killed by the signal (status $rc = 143)" test $rc = 143
check "second SIGTERM: the file stays readable" "$H5DUMP" -H "$TMP/twice.h5" > /dev/null
# the committed checkpoint is round 3 (or a later one, when the machine was slow enough for
# the first signal's round to finish before the second signal) and never beyond the rows
c=$(ckpt_round "$TMP/twice.h5"); n=$(nrows "$TMP/twice.h5" /rounds)
check "second SIGTERM: a committed checkpoint intact (round ${c:-none} of $n recorded)" \
  test -n "$c" -a "${c:-0}" -ge 3 -a "${c:-0}" -le "${n:-0}"

# 5. no checkpoint yet (checkpoint_every = 0, SIGKILL): resume restarts at round 0
"$HETFL" run "$S" -o "$TMP/none.h5" "${ARGS[@]}" --set run.checkpoint_every=0 > "$TMP/none.log" 2>&1 &
pid=$!
wait_round 3 "$TMP/none.log"; kill -9 $pid; wait $pid
check "no checkpoint: /checkpoint absent" test -z "$(ckpt_round "$TMP/none.h5")"
run_mpi 2 run "$S" --quiet "${ARGS[@]}" --set run.checkpoint_every=0 --resume "$TMP/none.h5" \
  > "$TMP/res.log" 2>&1
check "no checkpoint: --resume restarts from round 0 ≡ uninterrupted" same "$TMP/none.h5"

# 6. refusing a different run
cp "$TMP/ref.h5" "$TMP/ref-copy.h5"
"$HETFL" run "$S" --quiet "${ARGS[@]}" --seed 9 --resume "$TMP/ref-copy.h5" > /dev/null 2> "$TMP/e"; rc=$?
check "resume with another seed: exit 2 (got $rc)" test $rc = 2
check "resume with another seed: message names run.seed" grep -q "cannot resume.*differs" "$TMP/e"
check "resume with another seed: message shows the key" grep -Eq "now: +\[run\] seed += 9" "$TMP/e"
run_mpi 2 run "$S" --quiet "${ARGS[@]}" --set federation.lr=0.1 --resume "$TMP/ref-copy.h5" > /dev/null 2> "$TMP/e"
check "resume with another lr on 2 ranks: exit 2" test $? = 2
check "refused resumes leave the file untouched" cmp -s "$TMP/ref.h5" "$TMP/ref-copy.h5"
"$HETFL" run "$S" --quiet "${ARGS[@]}" --resume "$TMP/nonexistent.h5" > /dev/null 2> "$TMP/e"
check "resume of a missing file: exit 2" test $? = 2
printf 'not hdf5\n' > "$TMP/junk.h5"
"$HETFL" run "$S" --quiet "${ARGS[@]}" --resume "$TMP/junk.h5" > /dev/null 2> "$TMP/e"
check "resume of a non-HDF5 file: exit 2" test $? = 2
# resuming a finished run redoes the rounds after its last checkpoint: same file
"$HETFL" run "$S" --quiet "${ARGS[@]}" --resume "$TMP/ref-copy.h5" > /dev/null 2>&1
check "resume of a finished file: still ≡ uninterrupted" same "$TMP/ref-copy.h5"
# ... and the other round tables roll back with /rounds: heterofl's /rounds_by_width
# (one row per evaluated width: one width here, every round) keeps the rows of
# rounds 1-4 (the last checkpoint) and gets 5-6 again, not twice; hetfl compare
# covers the table
HF=(--set federation.strategy=heterofl --set federation.rounds=6 --set run.checkpoint_every=2
    --set federation.eval_every=1)
"$HETFL" run "$S" --quiet "${HF[@]}" -o "$TMP/hf-ref.h5" > /dev/null 2>&1
cp "$TMP/hf-ref.h5" "$TMP/hf.h5"
run_mpi 2 run "$S" --quiet "${HF[@]}" --resume "$TMP/hf.h5" > /dev/null 2>&1
check "heterofl: resume of a finished file: exit 0" test $? = 0
check "heterofl: /rounds_by_width has 6 rows, one per round ($(nrows "$TMP/hf.h5" /rounds_by_width))" \
  test "$(nrows "$TMP/hf.h5" /rounds_by_width)" = 6
"$HETFL" compare "$TMP/hf-ref.h5" "$TMP/hf.h5" > "$TMP/cmp.log" 2>&1
check "heterofl: resumed ≡ uninterrupted, /rounds_by_width compared" grep -q "1 other round table" "$TMP/cmp.log"

# 7. overwrite protection and atomic creation
cp "$TMP/ref.h5" "$TMP/keep.h5"
"$HETFL" run "$S" --quiet "${ARGS[@]}" -o "$TMP/ref.h5" > /dev/null 2> "$TMP/e"; rc=$?
check "existing results file without --force: exit 2 (got $rc)" test $rc = 2
check "existing results file: message with --force hint" grep -q "refusing to overwrite.*" "$TMP/e"
check "existing results file: untouched" cmp -s "$TMP/ref.h5" "$TMP/keep.h5"
"$HETFL" run "$S" --quiet "${ARGS[@]}" --set federation.rounds=2 -o "$TMP/ref.h5" --force > /dev/null 2>&1
check "--force replaces it" test "$(nrows "$TMP/ref.h5" /rounds)" = 2
check "no temporary files left behind" test -z "$(ls "$TMP" | grep '\.tmp-' || true)"
finish
