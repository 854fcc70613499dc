#!/usr/bin/env bash
# Test driver for the shell tests (automake LOG_COMPILER): runs the script with a
# time limit.  The scripts launch hetfl through $MPIEXEC themselves; exit 77 = skip.
exec timeout 900 bash "$@"
