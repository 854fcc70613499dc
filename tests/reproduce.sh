#!/usr/bin/env bash
# hetfl reproduce: a small reproduce (a synthetic suite, 2 variants x 2 seeds,
# 4 rounds) whose [expect] claims must give known verdicts — a planted PASS
# (4 clients a round move twice the bytes of 2: bytes v1 >= 1.5 x v0, exact), a
# planted FAIL (bytes v1 <= v0) and an INCONCLUSIVE (a target never reached: no
# values) — the report's figures against hetfl report's (mean, and the 95 % CI
# mean ± t_{0.975,1} sd/√2 with t = 12.706 from the table), reuse of completed
# results, and bad input: claims (FILE:LINE: key 'x': why, exit 2) and options,
# with nothing run, nothing written and no temporary file left.
. "$(dirname "$0")/lib.sh"
S=$TMP/rep.conf
{ printf '[run]\nname = rep\n'; small_suite 4
  printf '[sweep]\nfederation.clients_per_round = 2 | 4\n'
  printf '[expect]\nmore_bytes = bytes: v1 >= 1.5 * v0   # planted PASS\n'
  printf 'planted_fail = bytes: v1 <= v0\n'
  printf 'never = rounds_to_target@0.9999: v1 < v0\n'
  printf 'all_rounds = rounds: v1 >= 4\n'; } > "$S"
"$HETFL" validate "$S" > /dev/null
check "a suite with an [expect] section validates" test $? = 0

cd "$TMP" || exit 1
"$HETFL" reproduce "$S" --seeds 2 --jobs 2 --out "$TMP/out" > "$TMP/r.txt" 2>&1
rc=$?
cat "$TMP/r.txt"
check "reproduce exits 1 when a claim FAILs" test $rc = 1
for f in v0-s1 v0-s2 v1-s1 v1-s2; do
  check "results file $f.h5 and its log" test -f "$TMP/out/rep/$f.h5" -a -f "$TMP/out/rep/$f.log"
done
check "planted claim PASSes (paired t)" grep -q '^PASS .* rep more_bytes: bytes: v1 >= 1.5 \* v0: paired t, n = 2' "$TMP/r.txt"
check "planted claim FAILs" grep -q '^FAIL .* rep planted_fail:' "$TMP/r.txt"
check "a target never reached is INCONCLUSIVE" grep -q '^INCONCLUSIVE *rep never: .*fewer than 2 values' "$TMP/r.txt"
check "one-sample claim against a constant PASSes" grep -q '^PASS *rep all_rounds: rounds: v1 >= 4: one-sample t' "$TMP/r.txt"
check "summary line" grep -q '^reproduce: 2 PASS, 1 FAIL, 1 INCONCLUSIVE; 0 failed runs; report' "$TMP/r.txt"
M=$TMP/out/reproduce.md
check "markdown report written" test -f "$M"
for w in '^# Reproduce report' '^- command: `hetfl reproduce ' '^- date: 20[0-9-]*T[0-9:]*Z' '^- machine: ' \
         '^- hetfl .*, commit ' '^## `rep`' '^| variant | final_accuracy | bytes | rounds_to_target@0.9999 |' \
         '^| `more_bytes` | `bytes: v1 >= 1.5 \* v0` | paired t, n = 2, df = 1 | .* | \*\*PASS\*\* |' \
         '^| `planted_fail` | .* | \*\*FAIL\*\* |'; do
  check "report has '$w'" grep -q "$w" "$M"
done
check "no temporary file left" test -z "$(find "$TMP/out" -name '*.tmp-*')"

# the figures against hetfl report's, computed independently: v0's final accuracy
# over the two seeds, mean, and the 95 % CI with t_{0.975,1} = 12.706 (table)
"$HETFL" report --csv --each "$TMP/out/rep/v0-s1.h5" "$TMP/out/rep/v0-s2.h5" > "$TMP/v0.csv"
want=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "final_accuracy") k = i; next }
  { x[NR - 1] = $k } END { m = (x[1] + x[2]) / 2; d = x[1] - x[2]; sd = (d < 0 ? -d : d) / sqrt(2)
  h = 12.706 * sd / sqrt(2); printf "%.4f %.4f %.4f\n", m, m - h, m + h }' "$TMP/v0.csv")
got=$(awk -F'|' '/^\| v0 `/ { print $3 }' "$M" | tr -d '[],' | awk '{ printf "%.4f %.4f %.4f\n", $1, $4, $5 }')
echo "v0 final accuracy: report $got, by hand $want"
check "v0 final accuracy mean and 95 % CI = hand computation from hetfl report" \
  awk -v a="$got" -v b="$want" 'BEGIN { split(a, x, " "); split(b, y, " "); for (i = 1; i <= 3; i++) {
    d = x[i] - y[i]; if (d < 0) d = -d; if (d > 2e-3 * (1 + (y[i] < 0 ? -y[i] : y[i]))) exit 1 } exit x[1] == "" }'

# completed results are reused; --force runs them again
t0=$(stat -c %Y "$TMP/out/rep/v0-s1.h5")
"$HETFL" reproduce "$S" --seeds 2 --out "$TMP/out" > "$TMP/r2.txt" 2>&1
check "second reproduce reuses the 4 completed runs" test "$(grep -c 'completed results there, reused' "$TMP/r2.txt")" = 4
check "... and gives the same verdicts" grep -q '^reproduce: 2 PASS, 1 FAIL, 1 INCONCLUSIVE' "$TMP/r2.txt"
check "... without touching the files" test "$(stat -c %Y "$TMP/out/rep/v0-s1.h5")" = "$t0"

# --- bad input: exit 2, FILE:LINE: key 'x': why; nothing run or written ---
bad_claim() {  # bad_claim 'CLAIM' 'what the message says'
  { printf '[run]\nname = b\n'; small_suite 2; printf '[sweep]\nfederation.clients_per_round = 2 | 3\n[expect]\n'
    printf 'x = %s\n' "$1"; } > "$TMP/b.conf"
  "$HETFL" validate "$TMP/b.conf" > /dev/null 2> "$TMP/b.err"
  local rc=$?
  check "validate '$1': exit 2" test $rc = 2
  check "validate '$1': message '$2' at b.conf:16" grep -qF "b.conf:16: key 'x': $2" "$TMP/b.err" || cat "$TMP/b.err"
  "$HETFL" reproduce "$TMP/b.conf" --seeds 2 --out "$TMP/bout" > /dev/null 2>&1
  rc=$?
  check "reproduce '$1': exit 2, nothing written" test $rc = 2 -a ! -e "$TMP/bout"
}
bad_claim 'final_acc: v1 > v0' "unknown metric 'final_acc'"
bad_claim 'final_accuracy: v2 > v0' "variant v2 does not exist: the suite has 2 variants"
bad_claim 'rounds_to_target: v1 < v0' "'rounds_to_target' needs a target accuracy"
bad_claim 'final_accuracy: v1 ~ v0' "'~' needs a tolerance"
bad_claim 'final_accuracy: v1 >= v0 - 0.02 and more' "unexpected text 'and more' at the end"
bad_claim '' "empty expectation"
{ printf '[run]\nname = b\n'; small_suite 2; printf '[expect]\na = bytes: v0 > 0\na = bytes: v0 > 1\n'; } > "$TMP/d.conf"
"$HETFL" validate "$TMP/d.conf" > /dev/null 2> "$TMP/d.err"
check "a claim name given twice: exit 2, both lines named" \
  grep -qF "d.conf:15: key 'a': listed twice in [expect] (first at $TMP/d.conf:14)" "$TMP/d.err"
"$HETFL" run "$TMP/b.conf" --variant 0 -o "$TMP/brun.h5" > /dev/null 2>&1
check "hetfl run refuses a suite with a bad claim (exit 2, no results file)" test $? = 2 -a ! -e "$TMP/brun.h5"
for args in "--seeds 0" "--seeds x" "--jobs 0" "--frobnicate" "--jobs"; do
  # shellcheck disable=SC2086
  "$HETFL" reproduce $args "$S" --out "$TMP/oout" > /dev/null 2>&1
  check "reproduce $args: exit 2, nothing written" test $? = 2 -a ! -e "$TMP/oout"
done
"$HETFL" reproduce "$S" --out "$TMP/oout" --report "$TMP/no/such/dir/r.md" > /dev/null 2> "$TMP/o.err"
check "--report in a missing directory: exit 2 before any run" test $? = 2 -a ! -e "$TMP/oout"
check "help: hetfl help reproduce" sh -c '"$1" help reproduce | grep -q "^usage: hetfl reproduce SUITE"' _ "$HETFL"
check "help: hetfl reproduce --help" sh -c '"$1" reproduce --help | grep -q "^  --seeds N"' _ "$HETFL"
finish
