#!/usr/bin/env bash
# Test driver for the shell tests (automake LOG_COMPILER): runs the script with a
# time limit, HETFL_TEST_TIMEOUT seconds (default 900; CI's sanitizer build, 3 to 5
# times slower, doubles it), and ends its log with the seconds it took (CI prints
# the slowest).  The scripts launch hetfl through $MPIEXEC themselves; exit 77 = skip.
#
# HETFL_TEST_DEADLINE (seconds since the epoch, unset by default): a test that
# would start after it skips, saying so.  CI sets it for its sanitizer build so
# that the run ends inside CI's time limit whatever the machine's speed; the
# tests run in Makefile.am's order, so those that matter most under the
# sanitizers run first.
if [ -n "${HETFL_TEST_DEADLINE:-}" ] && [ "$(date +%s)" -ge "$HETFL_TEST_DEADLINE" ]; then
  echo "SKIP: not started, the time budget of this run (HETFL_TEST_DEADLINE) is spent"
  exit 77
fi
t0=$SECONDS
timeout "${HETFL_TEST_TIMEOUT:-900}" bash "$@"
rc=$?
echo "# elapsed: $((SECONDS - t0)) s"
exit $rc
