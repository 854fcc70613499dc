#!/usr/bin/env bash
# Command line: help, version, list, keys, expand, validate, unknown commands.
. "$(dirname "$0")/lib.sh"
check "hetfl --help exits 0 and explains run" bash -c '"$0" --help | grep -q "run SUITE"' "$HETFL"
check "hetfl run --help" bash -c '"$0" run --help | grep -q -- "--variant"' "$HETFL"
check "hetfl version" bash -c '"$0" version | grep -Eq "^hetfl [0-9]+\.[0-9]+"' "$HETFL"
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
for s in "$HETFL_SRCDIR"/suites/*.conf; do
  check "every shipped suite expands: $(basename "$s")" bash -c '"$0" expand "$1" > /dev/null' "$HETFL" "$s"
done
finish
