#!/usr/bin/env bash
# CA-Fed's synthetic experiment (issue 25, suites/cafed-synthetic.conf): the
# per-round availability clock (availability.per_round) shows round t the
# model's state at (t + 1/2) slot_s, whatever the simulated time; the suite
# (synthetic-clustered data, per-round Markov availability, CA-Fed) is the same
# on 1, 2 and 3 ranks and across a resume; `hetfl report`'s mean_accuracy is the mean of the
# evaluated rounds' test accuracy; per_round is refused in async mode.
. "$(dirname "$0")/lib.sh"
S=$HETFL_SRCDIR/suites/cafed-synthetic.conf
t0=$SECONDS

# 1. cyclic availability, 2 groups over a 2 s cycle, slot_s 1: round t (from 0)
# sees group t mod 2 online (client k is in group k mod 2), so it selects
# exactly the clients k with k = t (mod 2); the rounds' simulated length
# (about 0.05 s here) does not matter
cyc=(--quiet --set availability.model=cyclic --set availability.groups=2 --set availability.cycle_s=2
     --set availability.per_round=yes --set availability.slot_s=1 --set federation.clients=4
     --set data.synthetic_devices=4 --set federation.clients_per_round=4 --set federation.rounds=6
     --set aggregation.correction=none --variant 0)
"$HETFL" run "$S" "${cyc[@]}" -o "$TMP/cyc.h5" > "$TMP/cyc.log" 2>&1 || cat "$TMP/cyc.log"
check "per_round, cyclic: runs" test -f "$TMP/cyc.h5"
cols "$TMP/cyc.h5" /participation round client outcome > "$TMP/cyc.rows"
check "per_round, cyclic: 2 clients a round, 6 rounds" test "$(wc -l < "$TMP/cyc.rows")" = 12
# a selected client stays online for its round (the simulated clock would drop
# some: group t mod 2 is offline for part of the sim time the rounds span)
check "per_round, cyclic: every selected client completes (no drop-outs)" \
  awk '$3 != "completed" { bad = 1 } END { exit bad }' "$TMP/cyc.rows"
first=$(awk 'NR == 1 { print $1 }' "$TMP/cyc.rows")
check "per_round, cyclic: round t selects the clients k = t mod 2 (first round $first)" \
  awk -v r0="$first" '{ if (($1 - r0) % 2 != $2 % 2) bad = 1 } END { exit bad }' "$TMP/cyc.rows"
"$HETFL" run "$S" "${cyc[@]}" --set availability.per_round=no -o "$TMP/cyc-time.h5" > /dev/null 2>&1
cols "$TMP/cyc-time.h5" /participation round client > "$TMP/cyc-time.rows"
check "per_round = no: the simulated clock (rounds of ~0.05 s: group 0 again in round 1)" \
  awk -v r0="$first" '$1 == r0 + 1 && $2 % 2 == 0 { found = 1 } END { exit !found }' "$TMP/cyc-time.rows"

# 2. the suite, cut to 12 rounds, CA-Fed's variant: 1, 2 and 3 ranks alike
ranks_equal cafed "$S" --variant 7 --set federation.rounds=12 --set federation.eval_every=3

# resume: the run to round 12 resumed from its round-10 checkpoint on 2 ranks
# redoes rounds 11-12 identically (the per-round clock is a function of the round)
"$HETFL" run "$S" --quiet --variant 7 --set federation.rounds=12 --set federation.eval_every=3 \
  --set run.checkpoint_every=5 -o "$TMP/ref.h5" > /dev/null 2>&1
cp "$TMP/ref.h5" "$TMP/fin.h5"
run_mpi 2 run "$S" --quiet --variant 7 --set federation.rounds=12 --set federation.eval_every=3 \
  --set run.checkpoint_every=5 --resume "$TMP/fin.h5" > "$TMP/res.log" 2>&1 || cat "$TMP/res.log"
check "rounds 11-12 redone from the round-10 checkpoint on 2 ranks == uninterrupted" \
  "$HETFL" compare "$TMP/ref.h5" "$TMP/fin.h5"

# 3. mean_accuracy = mean of /rounds.test_accuracy over the evaluated rounds
# (eval_every 3: rounds 3, 6, 9, 12; the others are NaN), from h5dump
want=$(cols -x "$TMP/cafed-1.h5" /rounds test_accuracy | awk '$1 != "nan" && $1 != "NaN" { s += $1; n++ }
  END { printf "%.10f %d", s / n, n }')
"$HETFL" report "$TMP/cafed-1.h5" --csv > "$TMP/r.csv"
got=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "mean_accuracy") k = i; next } NR == 2 { print $k }' "$TMP/r.csv")
echo "mean_accuracy: report $got, h5dump (mean, evaluated rounds) $want"
check "report's mean_accuracy is the mean over the 4 evaluated rounds" \
  awk -v a="$got" -v b="${want% *}" -v n="${want#* }" 'BEGIN { d = a - b; exit !(n == 4 && a != "" && d < 1e-6 && d > -1e-6) }'

# 4. async has no rounds: refused, exit 2, naming the key
"$HETFL" run "$HETFL_SRCDIR/suites/async.conf" --variant 1 --set availability.model=markov \
  --set availability.per_round=yes -o "$TMP/async.h5" > "$TMP/async.log" 2>&1
rc=$?
check "per_round with federation.mode = async: exit 2 ($rc)" test "$rc" = 2
check "per_round with async: the message names the key" grep -q "availability.per_round" "$TMP/async.log"
check "per_round with async: no results file" test ! -e "$TMP/async.h5"
echo "elapsed $((SECONDS - t0)) s"
finish
