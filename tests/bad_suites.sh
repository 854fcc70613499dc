#!/usr/bin/env bash
# Bad suites: exit status 2 on every rank, the expected FILE:LINE message, no
# results file left behind.  Each tests/data/bad/*.conf names its expected
# message (a regex) on its first line: "# expect: ...".
. "$(dirname "$0")/lib.sh"
D=$HETFL_SRCDIR/tests/data/bad
for s in "$D"/*.conf; do
  name=$(basename "$s")
  want=$(sed -n '1s/^# expect: //p' "$s")
  ( cd "$TMP" && run_mpi 2 run "$s" -o "$TMP/out-$name.h5" ) > "$TMP/o" 2> "$TMP/e"; rc=$?
  check "$name: exit status 2 (got $rc)" test $rc = 2
  check "$name: message matches '$want'" grep -Eq "$want" "$TMP/e"
  check "$name: printed once (rank 0), not by every rank" test "$(grep -c "hetfl" "$TMP/e")" -le 2
  check "$name: no results file" test ! -e "$TMP/out-$name.h5"
  check "$name: no core dump" test -z "$(ls "$TMP" | grep -E '^core' || true)"
  "$HETFL" validate "$s" > /dev/null 2>&1; rc=$?
  check "$name: validate also exits 2" test $rc = 2
done
# command-line errors
"$HETFL" run "$HETFL_SRCDIR/suites/quickstart.conf" --set federation.rounds > /dev/null 2> "$TMP/e"
check "--set without '=': exit 2" test $? = 2
"$HETFL" run "$HETFL_SRCDIR/suites/quickstart.conf" --set federation.roundz=3 > /dev/null 2> "$TMP/e"
check "--set unknown key suggests" grep -q "did you mean 'federation.rounds'" "$TMP/e"
"$HETFL" run "$HETFL_SRCDIR/suites/fedavg-fmnist.conf" --variant 5 > /dev/null 2> "$TMP/e"; rc=$?
check "--variant out of range: exit 2" test $rc = 2
check "--variant out of range: message" grep -q "out of range" "$TMP/e"
"$HETFL" run /no/such/suite.conf > /dev/null 2> "$TMP/e"; rc=$?
check "missing suite: exit 2" test $rc = 2
"$HETFL" run "$HETFL_SRCDIR/suites/quickstart.conf" --bogus > /dev/null 2> "$TMP/e"; rc=$?
check "unknown option: exit 2" test $rc = 2
finish
