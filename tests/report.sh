#!/usr/bin/env bash
# hetfl report: the text table, --csv, rounds/time/energy/bytes to a target on
# the best-so-far curve with linear interpolation (checked against the run's own
# progress lines), grouping of runs that differ only by seed into mean ± sd,
# and bad input (exit 2).
. "$(dirname "$0")/lib.sh"
need_fmnist
tiny=$HETFL_SRCDIR/tests/data/tiny.conf
opts=(--set federation.rounds=8 --set federation.eval_every=1 --quiet)
"$HETFL" run "$tiny" "${opts[@]}" --seed 3 -o "$TMP/s3.h5" > /dev/null 2>&1
check "tiny seed 3 runs" test $? = 0
"$HETFL" run "$tiny" --set federation.rounds=8 --set federation.eval_every=1 --seed 4 \
  -o "$TMP/s4.h5" > "$TMP/s4.log" 2>&1
check "tiny seed 4 runs" test $? = 0
"$HETFL" run "$tiny" "${opts[@]}" --seed 3 --set federation.lr=0.1 -o "$TMP/lr.h5" > /dev/null 2>&1
check "tiny lr=0.1 runs" test $? = 0

# col NAME: the value of CSV column NAME in row ROW (default 1) of stdin
col() { awk -F, -v c="$1" -v row="${2:-1}" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
  NR == row + 1 { print $k; exit }'; }
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= t) }'; }

# --- one run: the table, and the figures against an independent computation ---
"$HETFL" report "$TMP/s4.h5" --target 0.6 > "$TMP/r.txt"
check "report prints the table (exit 0)" test $? = 0
cat "$TMP/r.txt"
for row in "final accuracy" "rounds to 0.6" "energy to 0.6 (J)" "carbon to 0.6 (g)" "MB to 0.6" \
           "wall time to 0.6" "sim time to 0.6" "selected / round" "dropped / round" "late / round" \
           "outcome completed"; do
  check "table has row '$row'" grep -q "^$row" "$TMP/r.txt"
done
"$HETFL" report "$TMP/s4.h5" --target 0.6 --csv > "$TMP/r.csv"
# expected rounds-to-target from the progress lines: best-so-far accuracy, first
# evaluation at or above the target, linear interpolation from the previous one
exp=$(awk -v T=0.6 '/^round / { split($2, a, "/"); r = a[1]; acc = $6 + 0;
  if (acc > best) best = acc;
  if (best >= T && !done) { if (pr) print pr + (T - pb) / (best - pb) * (r - pr); else print r; done = 1 }
  pr = r; pb = best }' "$TMP/s4.log")
got=$(col rounds_to_target < "$TMP/r.csv")
echo "rounds to 0.6: report $got, from the progress lines $exp"
check "rounds to target = interpolated best-so-far curve ($got vs $exp)" near "$got" "$exp" 0.02
fin=$(sed -n 's/^done: .*final accuracy \([0-9.]*\).*/\1/p' "$TMP/s4.log")
check "final accuracy matches the run ($(col final_accuracy < "$TMP/r.csv") vs $fin)" \
  near "$(col final_accuracy < "$TMP/r.csv")" "$fin" 0.00006
# energy and bytes per round are constant here (IID equal shares, all complete):
# the to-target figure is the total scaled by rounds_to_target / rounds
for m in energy_j:energy_to_target_j bytes:bytes_to_target carbon_g:carbon_to_target_g; do
  tot=$(col "${m%%:*}" < "$TMP/r.csv"); tt=$(col "${m#*:}" < "$TMP/r.csv")
  e=$(awk -v t="$tot" -v g="$got" 'BEGIN { print t * g / 8 }')
  check "${m#*:} = ${m%%:*} x rounds_to_target / rounds ($tt vs $e)" near "$tt" "$e" "$(awk -v e="$e" 'BEGIN { print e * 1e-6 }')"
done
check "selected/round = 7" test "$(col selected_per_round < "$TMP/r.csv")" = 7
check "outcome_completed = 8 x 7" test "$(col outcome_completed < "$TMP/r.csv")" = 56
"$HETFL" report "$TMP/s4.h5" --target 0.99 > "$TMP/nr.txt"
check "unreached target says so" grep -q "^rounds to 0.99 *not reached" "$TMP/nr.txt"

# --- several runs: seeds 3 and 4 group into mean ± sd, the lr run stays apart ---
"$HETFL" report "$TMP/s3.h5" "$TMP/lr.h5" "$TMP/s4.h5" --target 0.6 > "$TMP/g.txt"
check "report of 3 files (exit 0)" test $? = 0
cat "$TMP/g.txt"
check "two columns: the seed group and the lr run" grep -q "3 runs in 2 columns" "$TMP/g.txt"
check "seed group shown with ±" grep -q "^final accuracy .*±" "$TMP/g.txt"
check "seed group lists its seeds" grep -q "^runs (seeds) *2 (3,4)" "$TMP/g.txt"
"$HETFL" report "$TMP/s3.h5" "$TMP/lr.h5" "$TMP/s4.h5" --target 0.6 --csv > "$TMP/g.csv"
"$HETFL" report "$TMP/s3.h5" "$TMP/s4.h5" --target 0.6 --csv --each > "$TMP/e.csv"
check "csv: 2 groups" test "$(wc -l < "$TMP/g.csv")" = 3
check "--each: one row per run" test "$(wc -l < "$TMP/e.csv")" = 3
a3=$(col final_accuracy 1 < "$TMP/e.csv"); a4=$(col final_accuracy 2 < "$TMP/e.csv")
m=$(awk -v a="$a3" -v b="$a4" 'BEGIN { printf "%.10g", (a + b) / 2 }')
sd=$(awk -v a="$a3" -v b="$a4" 'BEGIN { d = a - b; if (d < 0) d = -d; printf "%.10g", d / sqrt(2) }')
check "group mean = mean of the seeds ($(col final_accuracy 1 < "$TMP/g.csv") vs $m)" \
  near "$(col final_accuracy 1 < "$TMP/g.csv")" "$m" 1e-9
check "group sd = sample sd of the seeds ($(col final_accuracy_sd 1 < "$TMP/g.csv") vs $sd)" \
  near "$(col final_accuracy_sd 1 < "$TMP/g.csv")" "$sd" 1e-9
check "group row has runs = 2" test "$(col runs 1 < "$TMP/g.csv")" = 2
check "lr run stands alone" test "$(col runs 2 < "$TMP/g.csv")" = 1

# --- bad input ---
"$HETFL" report "$TMP/missing.h5" > /dev/null 2> "$TMP/err"
check "missing file: exit 2" test $? = 2
check "missing file: names the file" grep -q "missing.h5" "$TMP/err"
"$HETFL" report "$TMP/s3.h5" --target 1.5 > /dev/null 2>&1
check "--target 1.5: exit 2" test $? = 2
"$HETFL" report > /dev/null 2>&1
check "no file: exit 2" test $? = 2
finish
