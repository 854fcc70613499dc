#!/usr/bin/env bash
# Test driver for the shell tests (automake LOG_COMPILER): runs the script with a
# time limit, HETFL_TEST_TIMEOUT seconds (default 900; CI's sanitizer build, 3 to 5
# times slower, doubles it), and ends its log with the seconds it took (CI's
# summary lists the slowest).  The scripts launch hetfl through $MPIEXEC
# themselves; exit 77 = skip.
t0=$SECONDS
timeout "${HETFL_TEST_TIMEOUT:-900}" bash "$@"
rc=$?
echo "# elapsed: $((SECONDS - t0)) s"
exit $rc
