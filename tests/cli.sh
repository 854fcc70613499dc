#!/usr/bin/env bash
# Command line: help, version, list, keys, expand, validate, unknown commands.
. "$(dirname "$0")/lib.sh"
check "hetfl --help exits 0 and explains run" bash -c '"$0" --help | grep -q "run SUITE"' "$HETFL"
check "hetfl run --help" bash -c '"$0" run --help | grep -q -- "--variant"' "$HETFL"
check "hetfl version" bash -c '"$0" version | grep -Eq "^hetfl [0-9]+\.[0-9]+"' "$HETFL"
for k in git_commit git_dirty compiler cflags configure mpi hdf5 openblas hwloc; do
  check "hetfl version prints $k" bash -c '"$0" version | grep -q "^$1: ."' "$HETFL" "$k"
done
# help per command: each names its own usage, not the global one
for c in run validate expand list bench compare report carbon version; do
  "$HETFL" $c --help > "$TMP/h" 2>&1; rc=$?
  check "hetfl $c --help: exit 0, own usage" bash -c '[ $0 = 0 ] && grep -q "^usage: hetfl $1" "$2" && ! grep -q "^commands:" "$2"' \
    "$rc" "$c" "$TMP/h"
done
check "hetfl run --help lists --resume" bash -c '"$0" run --help | grep -q -- "--resume FILE"' "$HETFL"
check "hetfl report --help lists --include-incomplete" bash -c '"$0" report --help | grep -q -- "--include-incomplete"' "$HETFL"
check "hetfl bench --help lists the sections" bash -c '"$0" bench --help | grep -q "kernels, round, agg"' "$HETFL"
check "hetfl trace gen --help lists the model parameters" \
  bash -c '"$0" trace gen --help | grep -q "^usage: hetfl trace gen" && "$0" trace gen --help | grep -q -- "--pi "' "$HETFL"
check "hetfl trace --help lists the subcommands" bash -c '"$0" trace --help | grep -q "hetfl trace stats"' "$HETFL"
# help keys: integer ranges as integers
check "help keys: run.seed range [0, 2147483647]" bash -c '"$0" help keys | grep -A1 "^run.seed " | grep -qF "[0, 2147483647]"' "$HETFL"
check "help keys: no e+ notation in int ranges" bash -c '! "$0" help keys | grep -E "^[a-z_.]+ +int " | grep -q "e+"' "$HETFL"
# the Markdown table: every row has 5 cells ('|' inside cells escaped)
check "help keys --markdown: 5 cells per row" bash -c '"$0" help keys --markdown |
  sed "s/\\\\|//g" | awk -F"|" "NF != 7 { print; bad = 1 } END { exit bad }"' "$HETFL"
check "hetfl list names fedavg and the 2NN" bash -c '"$0" list | grep -q fedavg && "$0" list | grep -q 199,210' "$HETFL"
check "hetfl help keys documents every core key" bash -c 'out=$("$0" help keys); for k in run.seed run.output data.dataset data.partition model.arch federation.clients_per_round federation.eval_every aggregation.topology aggregation.exact devices.clock; do grep -q "^$k " <<<"$out" || exit 1; done' "$HETFL"
"$HETFL" frobnicate > "$TMP/o" 2> "$TMP/e"; rc=$?
check "unknown command exits 2" test $rc = 2
check "unknown command suggests" grep -q "unknown command" "$TMP/e"
"$HETFL" rn > /dev/null 2> "$TMP/e"
check "near-miss command: did you mean run" grep -q "did you mean 'run'" "$TMP/e"
"$HETFL" > /dev/null 2>&1; check "no command exits 2" test $? = 2
out=$("$HETFL" expand "$HETFL_SRCDIR/suites/fedavg-fmnist.conf")
check "expand lists 2 variants" test "$(wc -l <<<"$out")" = 2
check "expand variant 1 is shards" grep -q "^1.*data.partition=shards" <<<"$out"
if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  check "validate quickstart" bash -c '"$0" validate "$1" | grep -q "^clients_per_round *= *10"' "$HETFL" "$HETFL_SRCDIR/suites/quickstart.conf"
  check "validate with --set shows the override" bash -c '"$0" validate "$1" --set federation.rounds=7 | grep -Eq "^rounds *= *7 .*--set"' "$HETFL" "$HETFL_SRCDIR/suites/quickstart.conf"
fi
# a suite named without a path: current directory, HETFL_SUITE_PATH, installed suites
mkdir -p "$TMP/sp/a" "$TMP/sp/b"
printf '[run]\nname = found-in-b\n[data]\ndataset = synthetic\n' > "$TMP/sp/b/mine.conf"
check "suite found on HETFL_SUITE_PATH (NAME without .conf)" bash -c \
  'cd "$1" && HETFL_SUITE_PATH="$1/a:$1/b" "$0" validate mine | grep -q "name *= *found-in-b"' "$HETFL" "$TMP/sp"
check "suite found in the current directory" bash -c \
  'cd "$1/b" && "$0" expand mine.conf > /dev/null' "$HETFL" "$TMP/sp"
"$HETFL" validate no-such-suite > /dev/null 2> "$TMP/e"; rc=$?
check "unknown suite name: exit 2, named" bash -c '[ $0 = 2 ] && grep -q "no-such-suite" "$1"' "$rc" "$TMP/e"
# an HDF5 file where a suite is expected
printf '\211HDF\r\n\032\n0000' > "$TMP/r.h5"
"$HETFL" run "$TMP/r.h5" > /dev/null 2> "$TMP/e"; rc=$?
check "hetfl run FILE.h5: exit 2, recognised, suggests report" bash -c \
  '[ $0 = 2 ] && grep -q "is an HDF5 file" "$1" && grep -q "hetfl report" "$1" && ! grep -qi utf-8 "$1"' "$rc" "$TMP/e"
# compare names the differing keys; a rank without clients is announced
syn=(--set data.dataset=synthetic --set federation.clients=2 --set federation.clients_per_round=2
     --set federation.rounds=1 --set model.arch=logreg --quiet)
"$HETFL" run "$HETFL_SRCDIR/tests/data/tiny.conf" "${syn[@]}" -o "$TMP/c1.h5" > /dev/null 2>&1
"$HETFL" run "$HETFL_SRCDIR/tests/data/tiny.conf" "${syn[@]}" -o "$TMP/c2.h5" --set federation.lr=0.1 \
  --set federation.momentum=0.9 > /dev/null 2>&1
"$HETFL" compare "$TMP/c1.h5" "$TMP/c2.h5" > "$TMP/cmp" 2>&1; rc=$?
check "compare: exit 1 when different" test $rc = 1
check "compare names federation.lr and its values" grep -q "federation.lr: 0.05 vs 0.1" "$TMP/cmp"
check "compare names federation.momentum" grep -q "federation.momentum: 0.5 vs 0.9" "$TMP/cmp"
check "compare names no equal key" bash -c '! grep -q "federation.rounds" "$0"' "$TMP/cmp"
run_mpi 3 run "$HETFL_SRCDIR/tests/data/tiny.conf" "${syn[@]}" -o "$TMP/c3.h5" > /dev/null 2> "$TMP/e"
check "3 ranks for 2 clients: warning names the idle rank" grep -q "warning: 3 ranks for 2 clients: 1 rank hosts no client" "$TMP/e"
# slurm/scaling.sh (dry run, no Slurm needed): weak scaling keeps the work per rank
# constant — clients, clients per round and data all grow with the ranks
sc=$(HETFL=$HETFL bash "$HETFL_SRCDIR/slurm/scaling.sh" --dry-run --ranks "1 2" --series weak \
  "$HETFL_SRCDIR/tests/data/tiny.conf" 2>&1)
check "scaling.sh weak, 2 ranks: clients, per round and train_samples doubled" grep -q \
  "federation.clients=40 --set federation.clients_per_round=14 --set data.train_samples=6000" <<<"$sc"
sc=$(HETFL=$HETFL bash "$HETFL_SRCDIR/slurm/scaling.sh" --dry-run --ranks "1 2" --series strong \
  "$HETFL_SRCDIR/tests/data/tiny.conf" 2>&1)
check "scaling.sh strong: the suite unchanged" bash -c '! grep -q -- "--set" <<<"$0"' "$sc"
HETFL=$HETFL bash "$HETFL_SRCDIR/slurm/scaling.sh" --dry-run --ranks "1 2" --series weak \
  "$HETFL_SRCDIR/suites/quickstart.conf" > /dev/null 2> "$TMP/e"; rc=$?
check "scaling.sh weak on the whole data set: exit 2 with a hint" bash -c '[ $0 = 2 ] && grep -q "data.train_samples=30000" "$1"' "$rc" "$TMP/e"
# scaling.sh reads keys from the resolved configuration through a pipe under
# pipefail: a reader that stops at the key (awk's exit) killed the writer with
# SIGPIPE once the text spanned several writes, and the script died silently
# with status 141 (slurm.sh's scaling check failed so under load).  A stand-in
# hetfl whose `validate` adds 100 KB of comments (more than a pipe holds) after
# the real configuration makes that certain instead of a race.
cat > "$TMP/bigcfg-hetfl" << EOF
#!/usr/bin/env bash
if [ "\$1" = validate ]; then
  "$HETFL" "\$@" || exit
  awk 'BEGIN { for (i = 0; i < 2000; i++) printf "# padding line %d of a long resolved configuration ....\n", i }'
  exit
fi
exec "$HETFL" "\$@"
EOF
chmod +x "$TMP/bigcfg-hetfl"
sc=$(HETFL=$TMP/bigcfg-hetfl bash "$HETFL_SRCDIR/slurm/scaling.sh" --dry-run --ranks "1 2" --series weak \
  "$HETFL_SRCDIR/tests/data/tiny.conf" 2>&1); rc=$?
check "scaling.sh with a configuration larger than a pipe: exit 0, the keys read (status $rc)" \
  bash -c '[ $0 = 0 ] && grep -q "federation.clients=40 --set federation.clients_per_round=14" <<<"$1"' "$rc" "$sc"
for s in "$HETFL_SRCDIR"/suites/*.conf; do
  check "every shipped suite expands: $(basename "$s")" bash -c '"$0" expand "$1" > /dev/null' "$HETFL" "$s"
done
# their [expect] claims (expand does not read them): a report of no results, nothing
# run; exit 1 (every run missing), 2 would be a bad claim
"$HETFL" reproduce "$HETFL_SRCDIR"/suites/*.conf --seeds 1 --report-only --out "$TMP/claims" \
  --report "$TMP/claims.md" > "$TMP/claims.txt" 2>&1; rc=$?
check "every shipped suite's [expect] claims parse (reproduce --report-only: exit 1, not 2)" \
  bash -c '[ $0 = 1 ] || { cat "$1"; exit 1; }' "$rc" "$TMP/claims.txt"
finish
