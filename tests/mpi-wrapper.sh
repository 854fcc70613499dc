#!/usr/bin/env bash
# Test driver for the shell tests (automake LOG_COMPILER): runs the script with a
# time limit, HETFL_TEST_TIMEOUT seconds (default 900; CI's sanitizer build, 3 to 5
# times slower, doubles it).  The scripts launch hetfl through $MPIEXEC themselves;
# exit 77 = skip.
exec timeout "${HETFL_TEST_TIMEOUT:-900}" bash "$@"
