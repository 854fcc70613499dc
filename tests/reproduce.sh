#!/usr/bin/env bash
# hetfl reproduce: a small reproduce (a synthetic suite, 2 variants x 2 seeds,
# 4 rounds) whose [expect] claims must give known verdicts — a planted PASS
# (4 clients a round move twice the bytes of 2: bytes v1 >= 1.5 x v0, exact), a
# planted FAIL (bytes v1 <= v0, with its NAME.why explanation printed beside it)
# and an INCONCLUSIVE (a target never reached: no values; no explanation: marked
# so, and counted in the header), a claim on another figure of variant A
# (bytes_up: v1 ~ v0.bytes: 4 clients' uploads = 2 clients' uploads + downloads) — the report's figures against hetfl report's (mean, and the 95 % CI
# mean ± t_{0.975,1} sd/√2 with t = 12.706 from the table), reuse of completed
# results (the report names the runs another build wrote: a git_commit attribute
# rewritten), a suite whose data are missing (reported "not run" with the run's
# message, its other runs skipped, exit 0), --report-only (nothing run, missing
# runs counted and left out), and bad input: claims (FILE:LINE:
# key 'x': why, exit 2) and options, with nothing run, nothing written and no
# temporary file left.
. "$(dirname "$0")/lib.sh"
S=$TMP/rep.conf
{ printf '[run]\nname = rep\n'; small_suite 4
  printf '[sweep]\nfederation.clients_per_round = 2 | 4\n'
  printf '[expect]\nmore_bytes = bytes: v1 >= 1.5 * v0   # planted PASS\n'
  printf 'planted_fail = bytes: v1 <= v0\n'
  printf 'planted_fail.why = measured: 4 clients a round move twice the bytes of 2\n'
  printf 'never = rounds_to_target@0.9999: v1 < v0\n'
  printf 'all_rounds = rounds: v1 >= 4\n'
  # uploads: 4 rounds x 2 clients x (60 + 1) x 10 float32 parameters = 19520 bytes (by hand)
  printf 'uploads = bytes_up: v0 ~ 19520 within 0.5\n'
  # vA.METRIC2: v1's uploads (4 clients: 39040 bytes) = v0's uploads + downloads (2 x 19520)
  printf 'other_figure = bytes_up: v1 ~ v0.bytes within 0.5\n'; } > "$S"
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
check "bytes_up (uploads only) = 19520 bytes, the hand computation" grep -q '^PASS *rep uploads: bytes_up: ' "$TMP/r.txt"
check "vA.METRIC2: v1's uploads against v0's uploads + downloads PASSes (paired t)" \
  grep -q '^PASS *rep other_figure: bytes_up: v1 ~ v0.bytes within 0.5: paired t, n = 2' "$TMP/r.txt"
check "summary line" grep -q '^reproduce: 4 PASS, 1 FAIL, 1 INCONCLUSIVE; 0 failed runs; report' "$TMP/r.txt"
M=$TMP/out/reproduce.md
check "markdown report written" test -f "$M"
for w in '^# Reproduce report' '^- command: `hetfl reproduce ' '^- date: 20[0-9-]*T[0-9:]*Z' '^- machine: ' \
         '^- hetfl .*, commit ' '^## `rep`' '^| variant | final_accuracy | bytes | rounds_to_target@0.9999 |' \
         '^| `more_bytes` | `bytes: v1 >= 1.5 \* v0` | paired t, n = 2, df = 1 | .* | \*\*PASS\*\* |' \
         '^| `planted_fail` | .* | \*\*FAIL\*\* |'; do
  check "report has '$w'" grep -q "$w" "$M"
done
# explanations: the FAIL's NAME.why beside it, the INCONCLUSIVE one without marked, both counted
check "report: the non-PASS claims listed" grep -q '^Not PASS, and why:$' "$M"
check "... the FAIL with its explanation" \
  grep -q '^- `planted_fail` (\*\*FAIL\*\*): measured: 4 clients a round move twice the bytes of 2$' "$M"
check "... the INCONCLUSIVE without one marked" \
  grep -q '^- `never` (\*\*INCONCLUSIVE\*\*): \*\*no explanation\*\* (no `never.why` in the suite.s `\[expect\]`)$' "$M"
check "... the header counts them" grep -q \
  '^- not PASS: 2 claims; with a measured explanation (the suite.s `NAME.why`): 1; with \*\*no explanation\*\*: 1; without one while runs of their variants are missing: 0$' "$M"
check "... and the output names the one without" grep -q '^ *rep never: no explanation (never.why)$' "$TMP/r.txt"
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
check "... and gives the same verdicts" grep -q '^reproduce: 4 PASS, 1 FAIL, 1 INCONCLUSIVE' "$TMP/r2.txt"
check "... without touching the files" test "$(stat -c %Y "$TMP/out/rep/v0-s1.h5")" = "$t0"
check "... all 4 written by this build, the report says" grep -q '^- all 4 runs read were written by this build$' \
  "$TMP/out/reproduce.md"

# a results file written by another build (its git_commit attribute rewritten):
# the report names that build and that run; the others are this build's
py=""
for p in /usr/bin/python3 python3; do "$p" -c 'import h5py' 2> /dev/null && { py=$p; break; }; done
if [ -n "$py" ]; then
  "$py" -c 'import h5py, sys; f = h5py.File(sys.argv[1], "r+"); f.attrs["git_commit"] = "0123456789abcdef0123456789abcdef01234567"' \
    "$TMP/out/rep/v1-s2.h5"
  "$HETFL" reproduce "$S" --seeds 2 --out "$TMP/out" > "$TMP/r3.txt" 2>&1
  check "a run from another commit: the header counts it and names the commit" grep -q \
    '^- \*\*1 of the 4 runs read were written by another build\*\* than this one (`0123456789abcdef0123456789abcdef01234567[ a-z()]*`)' \
    "$TMP/out/reproduce.md"
  check "... the suite names the run" grep -q '^Written by another build than this report.s (reused): v1-s2 (1 of 4 runs)\.$' \
    "$TMP/out/reproduce.md"
  check "... and so does the output" grep -q '^reproduce: rep: 1 of 4 runs written by another build: v1-s2$' "$TMP/r3.txt"
else
  echo "NOTE: no python3 with h5py (python3-h5py): the other-build flag is not tested"
fi

# a suite whose data are not here: its first run exits 2 (cannot open), its other
# runs are skipped, the report says "not run" with the run's message; exit 0
{ printf '[run]\nname = nodata\n[data]\ndataset = leaf\npath = %s/no/such/train.json\n' "$TMP"
  printf '[model]\narch = logreg\n[federation]\nclients = 4\nclients_per_round = 2\nrounds = 2\n'
  printf '[sweep]\nfederation.clients_per_round = 2 | 3\n[expect]\nx = final_accuracy: v1 > v0\n'; } > "$TMP/nodata.conf"
"$HETFL" reproduce "$TMP/nodata.conf" --seeds 2 --jobs 1 --out "$TMP/nd" > "$TMP/nd.txt" 2>&1
rc=$?
cat "$TMP/nd.txt"
check "a suite without its data: exit 0 (not run is not a failure)" test $rc = 0
check "... one run tried (its log), none written, 3 skipped" \
  test "$(ls "$TMP/nd/nodata")" = v0-s1.log -a "$(grep -c 'not run (exit 2)' "$TMP/nd.txt")" = 1
check "... the output says NOT RUN with the message" \
  grep -q "^reproduce: nodata: NOT RUN (its run exited 2, bad input: hetfl: .*train.json: cannot open.*); 3 other runs of it skipped" "$TMP/nd.txt"
check "... the report lists it as not run" grep -q '^- not run (.*): `nodata`$' "$TMP/nd/reproduce.md"
check "... with the message in its section" grep -q '^\*\*Not run\*\*: .*`hetfl: .*train.json: cannot open' "$TMP/nd/reproduce.md"
check "... and its claim not checked" grep -q '^1 claim not checked (not run)\.$' "$TMP/nd/reproduce.md"

# --report-only: nothing run; the runs not there counted and left out (seed 3 of
# rep's 2 variants), a suite without results but with its last attempt's error "not run"
cp -r "$TMP/nd/nodata" "$TMP/out/"
"$HETFL" reproduce "$S" "$TMP/nodata.conf" --seeds 3 --report-only --out "$TMP/out" --report "$TMP/ro.md" \
  > "$TMP/ro.txt" 2>&1
rc=$?
cat "$TMP/ro.txt"
check "--report-only with runs not there: exit 1" test $rc = 1
check "... nothing run (no seed 3 file or log)" test ! -e "$TMP/out/rep/v0-s3.log" -a ! -e "$TMP/out/rep/v1-s3.h5"
check "... says which runs are not there" grep -q '^reproduce: rep: 2 of 6 runs not there (--report-only): left out$' "$TMP/ro.txt"
check "... the report counts them" grep -q '^2 variants × 3 seeds — 2 of the 6 runs missing or incomplete, left out;' "$TMP/ro.md"
check "... and uses the 2 seeds there (paired t, n = 2)" grep -q '^| `more_bytes` | .* | paired t, n = 2, df = 1 |' "$TMP/ro.md"
check "... the suite without results: not run, from its last attempt's log" \
  grep -q "^reproduce: nodata: NOT RUN: hetfl: .*cannot open.*(the log of its last attempt, .*v0-s1.log)$" "$TMP/ro.txt"
check "... the header says nothing was run" grep -q '^- date: .*--report-only: nothing run' "$TMP/ro.md"
check "... a claim without explanation whose variants miss runs: runs missing, not 'no explanation'" \
  grep -q '^- `never` (\*\*INCONCLUSIVE\*\*): \*\*runs missing\*\*: 2 of the 6 runs of its variants are not there$' "$TMP/ro.md"
check "... an explained one: its explanation and the runs not there" \
  grep -q '^- `planted_fail` (\*\*FAIL\*\*): measured: .* \[2 of the 6 runs of its variants not there\]$' "$TMP/ro.md"
check "... counted apart" grep -q '^- not PASS: 2 claims; .*: 1; with \*\*no explanation\*\*: 0; without one while runs of their variants are missing: 1$' "$TMP/ro.md"
# a suite with no completed run and no error: its claims not checked, listed as such
sed 's/^name = rep$/name = rep2/' "$S" > "$TMP/rep2.conf"
"$HETFL" reproduce "$TMP/rep2.conf" --seeds 2 --report-only --out "$TMP/out" --report "$TMP/ro2.md" > "$TMP/ro2.txt" 2>&1
check "--report-only, no completed run: its claims not checked (not INCONCLUSIVE)" \
  grep -q '^- verdicts: 0 PASS, 0 FAIL, 0 INCONCLUSIVE' "$TMP/ro2.md"
check "... the suite listed as without a completed run" \
  grep -q '^- no completed run yet (--report-only), claims not checked: `rep2`$' "$TMP/ro2.md"

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
{ printf '[run]\nname = b\n'; small_suite 2; printf '[expect]\na = bytes: v0 > 0\nb.why = no claim b\n'; } > "$TMP/w.conf"
"$HETFL" validate "$TMP/w.conf" > /dev/null 2> "$TMP/w.err"
check "an explanation without its claim: exit 2, FILE:LINE: key" \
  sh -c '[ $1 = 2 ] && grep -qF "w.conf:15: key '"'b.why'"': no claim of that name in [expect]" "$2"' _ $? "$TMP/w.err"
"$HETFL" run "$TMP/b.conf" --variant 0 -o "$TMP/brun.h5" > /dev/null 2>&1
check "hetfl run refuses a suite with a bad claim (exit 2, no results file)" test $? = 2 -a ! -e "$TMP/brun.h5"
for args in "--seeds 0" "--seeds x" "--jobs 0" "--frobnicate" "--jobs" "--force --report-only"; do
  # shellcheck disable=SC2086
  "$HETFL" reproduce $args "$S" --out "$TMP/oout" > /dev/null 2>&1
  check "reproduce $args: exit 2, nothing written" test $? = 2 -a ! -e "$TMP/oout"
done
"$HETFL" reproduce "$S" --out "$TMP/oout" --report "$TMP/no/such/dir/r.md" > /dev/null 2> "$TMP/o.err"
check "--report in a missing directory: exit 2 before any run" test $? = 2 -a ! -e "$TMP/oout"
check "help: hetfl help reproduce" sh -c '"$1" help reproduce | grep -q "^usage: hetfl reproduce SUITE"' _ "$HETFL"
check "help: hetfl reproduce --help" sh -c '"$1" reproduce --help | grep -q "^  --seeds N"' _ "$HETFL"
finish
