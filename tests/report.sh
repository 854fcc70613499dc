#!/usr/bin/env bash
# hetfl report: the text table, --csv, rounds/time/energy/bytes to a target on
# the best-so-far curve with linear interpolation (checked against the run's own
# progress lines), grouping of runs that differ only by seed into mean ± sd,
# labels from the differing keys, a killed run left out of the means, duplicate
# seeds flagged, --rounds and --json, and bad input (exit 2); hetfl-plot's
# figures (FedDF's only for a FedDF run).
. "$(dirname "$0")/lib.sh"
# csvcol NAME [ROW] < CSV: the field NAME of data row ROW (default 1)
csvcol() { awk -F, -v c="$1" -v row="${2:-1}" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
  NR == row + 1 { print $k; exit }'; }
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

# field NAME [ROW]: the value of CSV column NAME in row ROW (default 1) of stdin
field() { awk -F, -v c="$1" -v row="${2:-1}" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
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
got=$(field rounds_to_target < "$TMP/r.csv")
echo "rounds to 0.6: report $got, from the progress lines $exp"
check "rounds to target = interpolated best-so-far curve ($got vs $exp)" near "$got" "$exp" 0.02
fin=$(sed -n 's/^done: .*final accuracy \([0-9.]*\).*/\1/p' "$TMP/s4.log")
check "final accuracy matches the run ($(field final_accuracy < "$TMP/r.csv") vs $fin)" \
  near "$(field final_accuracy < "$TMP/r.csv")" "$fin" 0.00006
# energy, carbon and bytes to target: the cumulative sums of the /rounds columns
# (read with h5dump) interpolated at the fractional round (every round is evaluated)
at_target() {  # cumulative sum of column $1 at fractional round $got
  col -x "$TMP/s4.h5" /rounds "$1" | awk -v rt="$got" '{ c += $1; cum[NR] = c }
    END { fl = int(rt); ce = (fl == rt) ? fl : fl + 1; printf "%.10g\n", cum[fl] + (rt - fl) * (cum[ce] - cum[fl]) }'
}
check "h5dump reads /rounds energy_j (8 rows)" test "$(col -x "$TMP/s4.h5" /rounds energy_j | wc -l)" = 8
for m in energy_j:energy_to_target_j carbon_g:carbon_to_target_g bytes:bytes_to_target; do
  tt=$(field "${m#*:}" < "$TMP/r.csv")
  if [ "${m%%:*}" = bytes ]; then
    e=$(awk -v a="$(at_target bytes_up)" -v b="$(at_target bytes_down)" 'BEGIN { printf "%.10g", a + b }')
  else
    e=$(at_target "${m%%:*}")
  fi
  check "${m#*:} = cumulative ${m%%:*} at round $got ($tt vs $e)" near "$tt" "$e" "$(awk -v e="$e" 'BEGIN { print e * 1e-6 }')"
done
check "selected/round = 7" test "$(field selected_per_round < "$TMP/r.csv")" = 7
check "outcome_completed = 8 x 7" test "$(field outcome_completed < "$TMP/r.csv")" = 56
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
a3=$(field final_accuracy 1 < "$TMP/e.csv"); a4=$(field final_accuracy 2 < "$TMP/e.csv")
m=$(awk -v a="$a3" -v b="$a4" 'BEGIN { printf "%.10g", (a + b) / 2 }')
sd=$(awk -v a="$a3" -v b="$a4" 'BEGIN { d = a - b; if (d < 0) d = -d; printf "%.10g", d / sqrt(2) }')
check "group mean = mean of the seeds ($(field final_accuracy 1 < "$TMP/g.csv") vs $m)" \
  near "$(field final_accuracy 1 < "$TMP/g.csv")" "$m" 1e-9
check "group sd = sample sd of the seeds ($(field final_accuracy_sd 1 < "$TMP/g.csv") vs $sd)" \
  near "$(field final_accuracy_sd 1 < "$TMP/g.csv")" "$sd" 1e-9
check "group row has runs = 2" test "$(field runs 1 < "$TMP/g.csv")" = 2
check "lr run stands alone" test "$(field runs 2 < "$TMP/g.csv")" = 1

# --- labels from the differing keys; counts in the CSV; duplicates; killed runs ---
check "columns labelled by the differing key" grep -Eq "^ +federation.lr=0.05 +federation.lr=0.1" "$TMP/g.txt"
check "csv: a column per differing key" test "$(csvcol federation.lr 2 < "$TMP/g.csv")" = 0.1
check "csv: reached_target_runs counted (2 of 2)" test "$(csvcol reached_target_runs 1 < "$TMP/g.csv")" = 2
"$HETFL" report "$TMP/s4.h5" --target 0.99 --csv > "$TMP/nr.csv"
check "csv: reached_target_runs 0 when not reached" test "$(csvcol reached_target_runs < "$TMP/nr.csv")" = 0
cp "$TMP/s3.h5" "$TMP/s3-copy.h5"
"$HETFL" report "$TMP/s3.h5" "$TMP/s3-copy.h5" "$TMP/s4.h5" > "$TMP/dup.txt" 2>&1
check "duplicate seeds flagged" grep -q "s3.h5 and .*s3-copy.h5: same configuration and seed 3" "$TMP/dup.txt"
"$HETFL" report "$TMP/s3.h5" "$TMP/s3-copy.h5" --csv 2> "$TMP/dup.err" > "$TMP/dup.csv"
check "duplicate seeds: warning on stderr with --csv" grep -q "same configuration and seed 3" "$TMP/dup.err"
check "duplicate seeds: duplicate_seeds column = 1" test "$(csvcol duplicate_seeds < "$TMP/dup.csv")" = 1
# a run of the same configuration (another seed) stopped by SIGTERM after a few of
# its 60 rounds must not be averaged with the complete ones
K=(--set federation.rounds=60 --set federation.eval_every=5)
"$HETFL" run "$tiny" "${K[@]}" --quiet --seed 3 -o "$TMP/k3.h5" > /dev/null 2>&1
"$HETFL" run "$tiny" "${K[@]}" --quiet --seed 4 -o "$TMP/k4.h5" > /dev/null 2>&1
"$HETFL" run "$tiny" "${K[@]}" --seed 7 -o "$TMP/k7.h5" > "$TMP/k7.log" 2>&1 & pid=$!
for i in $(seq 1000); do grep -Eq "^round +2/" "$TMP/k7.log" && break; sleep 0.01; done
kill -TERM $pid; wait $pid; rc=$?
check "a run of 60 rounds stopped early (exit $rc)" test $rc = 3
"$HETFL" report "$TMP/k3.h5" "$TMP/k4.h5" --target 0.6 --csv > "$TMP/k34.csv"
"$HETFL" report "$TMP/k3.h5" "$TMP/k4.h5" "$TMP/k7.h5" --target 0.6 --csv > "$TMP/k.csv" 2> "$TMP/k.err"
cat "$TMP/k.err"
check "killed file reported as incomplete and excluded" \
  grep -q "^excluded: .*k7.h5: incomplete run: status stopped, [0-9]* of 60 rounds, exit code 3" "$TMP/k.err"
check "killed file: the mean is over the 2 complete runs" test "$(csvcol runs < "$TMP/k.csv")" = 2
check "killed file: mean unchanged by it" test "$(csvcol final_accuracy < "$TMP/k.csv")" = \
  "$(csvcol final_accuracy < "$TMP/k34.csv")"
"$HETFL" report "$TMP/k3.h5" "$TMP/k4.h5" "$TMP/k7.h5" --target 0.6 --csv --include-incomplete > "$TMP/ki.csv" 2>/dev/null
check "--include-incomplete: 3 runs" test "$(csvcol runs < "$TMP/ki.csv")" = 3
check "--include-incomplete: incomplete_runs = 1" test "$(csvcol incomplete_runs < "$TMP/ki.csv")" = 1
"$HETFL" report "$TMP/s3.h5" "$TMP/k7.h5" > "$TMP/kt.txt" 2>&1
check "text report lists the excluded run" grep -q "incomplete run left out of the means" "$TMP/kt.txt"
# --rounds: long format, every round of every run
"$HETFL" report "$TMP/s3.h5" "$TMP/lr.h5" --rounds > "$TMP/rounds.csv"
check "--rounds: header + 16 rows" test "$(wc -l < "$TMP/rounds.csv")" = 17
check "--rounds: labelled by the swept key" test "$(csvcol label 9 < "$TMP/rounds.csv")" = federation.lr=0.1
check "--rounds: test_accuracy column" test -n "$(csvcol test_accuracy 8 < "$TMP/rounds.csv")"
# --json: a JSON document with the same figures
"$HETFL" report "$TMP/s3.h5" "$TMP/lr.h5" "$TMP/s4.h5" --target 0.6 --json > "$TMP/r.json"
jpy=$(command -v python3 || true)
if [ -n "$jpy" ]; then
  check "--json parses; group mean = the CSV's" "$jpy" -c 'import json, sys
d = json.load(open(sys.argv[1]))
g = d["groups"][0]
assert g["runs"] == 2 and g["keys"] == {"federation.lr": "0.05"}, g
assert abs(g["metrics"]["final_accuracy"]["mean"] - float(sys.argv[2])) < 1e-9
assert g["reached_target_runs"] == 2' "$TMP/r.json" "$(csvcol final_accuracy 1 < "$TMP/g.csv")"
fi

# --- hetfl-plot (optional: a python3 with h5py and matplotlib) ---
py=""
for p in /usr/bin/python3 python3; do "$p" -c 'import h5py, matplotlib' 2> /dev/null && { py=$p; break; }; done
if [ -n "$py" ]; then
  printf 'series\tranks\tclients\tclients_per_round\trounds\twall_per_round_s\tspeedup\tefficiency\tfile\n' > "$TMP/sum.tsv"
  printf 'strong\t%s\t20\t7\t2\t%s\t%s\t%s\tx.h5\n' 1 0.2 1 1 2 0.12 1.667 0.833 > "$TMP/sum.tab"
  printf 'weak\t%s\t%s\t%s\t2\t%s\t%s\t%s\tx.h5\n' 1 20 7 0.2 1 1 2 40 14 0.25 1.6 0.8 >> "$TMP/sum.tab"
  cat "$TMP/sum.tab" >> "$TMP/sum.tsv"
  "$py" "$HETFL_SRCDIR/tools/hetfl-plot.py" -o "$TMP/png" "$TMP/s3.h5" "$TMP/s4.h5" "$TMP/lr.h5" \
    --scaling "$TMP/sum.tsv" > "$TMP/plot.out" 2>&1
  check "hetfl-plot exits 0" test $? = 0
  cat "$TMP/plot.out"
  ispng() { [ "$(head -c 4 "$1" 2> /dev/null | tail -c 3)" = PNG ]; }
  for f in accuracy participation-tiny-s3 participation-tiny-s4 participation-tiny-s3_2 scaling; do
    check "hetfl-plot wrote $f.png (a PNG)" ispng "$TMP/png/$f.png"
  done
  check "no FedDF run: no feddf figure" test ! -e "$TMP/png/feddf.png"
  # FedDF (/feddf): a row of panels, one line per architecture group (a: width 1, c: 0.25)
  "$HETFL" run "$tiny" --set federation.rounds=2 --set federation.eval_every=1 --set federation.strategy=feddf \
    --set feddf.groups=a1-c1 --set feddf.steps=10 --set feddf.val_every=5 --quiet -o "$TMP/df.h5" > /dev/null 2>&1
  check "tiny FedDF run" test $? = 0
  "$py" "$HETFL_SRCDIR/tools/hetfl-plot.py" -o "$TMP/df" --format png,svg --no-heatmap "$TMP/df.h5" \
    > "$TMP/df.out" 2>&1
  check "hetfl-plot on a FedDF run: exit 0" test $? = 0
  check "hetfl-plot wrote feddf.png (a PNG)" ispng "$TMP/df/feddf.png"
  check "feddf figure: both groups, before/after distillation, steps, server compute" \
    bash -c 'for s in "width 1 (" "width 0.25 (" "FedAvg of the group" "distilled (kept)" "steps run" \
      "server compute"; do grep -qF "$s" "$0" || { echo "missing: $s"; exit 1; }; done' "$TMP/df/feddf.svg"
  check "feddf figure listed in the output" grep -q "feddf.png$" "$TMP/df.out"
  "$py" "$HETFL_SRCDIR/tools/hetfl-plot.py" -o "$TMP/df2" --no-heatmap "$TMP/s3.h5" > /dev/null 2>&1
  check "non-FedDF run alone: no feddf figure" test ! -e "$TMP/df2/feddf.png" -a -e "$TMP/df2/accuracy.png"
  check "no attack: no privacy or attribute figure" test ! -e "$TMP/df2/privacy.png" -a ! -e "$TMP/df2/attribute.png"
  "$py" "$HETFL_SRCDIR/tools/hetfl-plot.py" -o "$TMP/png" "$TMP/missing.h5" > /dev/null 2>&1
  check "hetfl-plot on a missing file: exit 2" test $? = 2
  # PDF and SVG, a dpi option, no baked title (--title adds one), killed runs marked
  "$py" "$HETFL_SRCDIR/tools/hetfl-plot.py" -o "$TMP/vec" --format pdf,svg,png --dpi 50 "$TMP/s3.h5" \
    "$TMP/k7.h5" > "$TMP/vec.out" 2>&1
  check "hetfl-plot --format pdf,svg,png: exit 0" test $? = 0
  check "accuracy.pdf is a PDF" bash -c '[ "$(head -c 4 "$0")" = "%PDF" ]' "$TMP/vec/accuracy.pdf"
  check "accuracy.svg is an SVG" grep -q "<svg" "$TMP/vec/accuracy.svg"
  check "no title baked in" bash -c '! grep -q "hetfl: test accuracy" "$0"' "$TMP/vec/accuracy.svg"
  check "incomplete run marked in the legend" grep -q "incomplete" "$TMP/vec/accuracy.svg"
  "$py" "$HETFL_SRCDIR/tools/hetfl-plot.py" -o "$TMP/t" --format svg --title "Figure-X-title" --no-heatmap \
    "$TMP/s3.h5" > /dev/null 2>&1
  check "--title puts the title on the figure" grep -q "Figure-X-title" "$TMP/t/accuracy.svg"
  pngw() { "$py" -c 'import struct, sys; d = open(sys.argv[1], "rb").read(24); print(struct.unpack(">I", d[16:20])[0])' "$1"; }
  "$py" "$HETFL_SRCDIR/tools/hetfl-plot.py" -o "$TMP/d100" --dpi 100 --no-heatmap "$TMP/s3.h5" > /dev/null 2>&1
  w50=$(pngw "$TMP/vec/accuracy.png"); w100=$(pngw "$TMP/d100/accuracy.png")
  # twice as wide within 2 %: the tight bounding box rounds text extents per dpi
  check "--dpi: 100 dpi is twice as wide as 50 dpi ($w100 vs $w50)" \
    bash -c 'd=$(( $0 - 2 * $1 )); [ ${d#-} -le $(( $0 / 50 )) ]' "$w100" "$w50"
  "$py" "$HETFL_SRCDIR/tools/hetfl-plot.py" -o "$TMP/d" --format png,jpg "$TMP/s3.h5" > /dev/null 2>&1
  check "--format jpg refused (exit 2)" test $? = 2
  # heatmap rows grouped by device class: two classes, their names on the figure
  "$HETFL" run "$tiny" --set federation.rounds=2 --set "devices.classes=phone-high:1,laptop:1" --quiet \
    -o "$TMP/cls.h5" > /dev/null 2>&1
  "$py" "$HETFL_SRCDIR/tools/hetfl-plot.py" -o "$TMP/cls" --format svg "$TMP/cls.h5" > /dev/null 2>&1
  f=$(ls "$TMP"/cls/participation-*.svg 2>/dev/null | head -1)
  check "heatmap grouped by device class (both class names drawn)" \
    bash -c 'grep -q "phone-high" "$0" && grep -q "laptop" "$0" && grep -q "grouped by device class" "$0"' "${f:-none}"
else
  echo "NOTE: no python3 with h5py and matplotlib (python3-h5py python3-matplotlib): hetfl-plot not tested"
fi

# --- bad input ---
"$HETFL" report "$TMP/missing.h5" > /dev/null 2> "$TMP/err"
check "missing file: exit 2" test $? = 2
check "missing file: names the file" grep -q "missing.h5" "$TMP/err"
"$HETFL" report "$TMP/s3.h5" --target 1.5 > /dev/null 2>&1
check "--target 1.5: exit 2" test $? = 2
"$HETFL" report > /dev/null 2>&1
check "no file: exit 2" test $? = 2
finish
