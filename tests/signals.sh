#!/usr/bin/env bash
# Signals from the first instant (issue #21, class 6): `hetfl run` handles
# SIGTERM / SIGUSR1 / SIGINT from main(), before MPI_Init, so a signal that
# arrives while the run starts (MPI start-up, data loading, setup) is exit 3
# with a message -- what an `sbatch --requeue` script expects -- never the
# default action's 143 / 138: nothing to resume, no results file, no
# temporary file, no core, and a pre-existing file given to --resume unchanged.
# The signal is sent as soon as the process has its handler (SigCgt in
# /proc/PID/status), while the setup of a 1000-client federation still runs.
. "$(dirname "$0")/lib.sh"
S=$TMP/start.conf
cat > "$S" <<'EOF'
[data]
dataset = synthetic
synthetic_devices = 1000
partition = natural
[model]
arch = logreg
[federation]
clients = 1000
clients_per_round = 3
rounds = 2
EOF

# caught PID SIG: PID has a handler for signal number SIG (SigCgt bit SIG-1)
caught() {
  local m
  m=$(sed -n 's/^SigCgt:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$m" ] && (( (16#$m >> ($2 - 1)) & 1 ))
}
# wait_caught SIG PID...: until every PID handles SIG (at most 30 s)
wait_caught() {
  local sig=$1 i p ok; shift
  for i in $(seq 600); do
    ok=1; for p; do caught "$p" "$sig" || ok=0; done
    [ $ok = 1 ] && return 0
    sleep 0.05
  done
  return 1
}
# after NAME DIR: the common checks (no results file, no temporary file, no core)
after() {
  check "$1: no results file written" test ! -e "$2/out.h5"
  check "$1: no temporary file left" test -z "$(ls "$2" | grep -F .tmp- || true)"
  check "$1: no core dump" test -z "$(ls "$2" | grep -E '^core' || true)"
}

# 1. one process, SIGTERM / SIGUSR1 / SIGINT as soon as it can take them
for sig in TERM USR1 INT; do
  n=$(kill -l $sig)
  d=$TMP/one-$sig; mkdir -p "$d"
  (cd "$d" && ulimit -c 0 && exec "$HETFL" run "$S" -o "$d/out.h5") > "$d/log" 2> "$d/err" & pid=$!
  wait_caught "$n" $pid || echo "# $sig: the handler was not seen in /proc/$pid/status"
  kill -$sig $pid; wait $pid; rc=$?
  check "SIG$sig while starting: exit 3 (got $rc)" test $rc = 3
  check "SIG$sig while starting: message" \
    grep -q "stopped by SIG$sig while the run was starting (data, model, setup), before the first round; no results file was written" "$d/err"
  check "SIG$sig while starting: hint" grep -q "HINT: nothing to resume: run the same command again" "$d/err"
  after "SIG$sig while starting" "$d"
done

# 2. two ranks, SIGTERM to each rank (as Slurm signals a job step): mpirun exits 3
d=$TMP/mpi; mkdir -p "$d"
(cd "$d" && ulimit -c 0 && exec "$MPIEXEC" -n 2 $OVERSUB "$HETFL" run "$S" -o "$d/out.h5") > "$d/log" 2> "$d/err" & mp=$!
ranks=
for i in $(seq 600); do
  ranks=$(for p in $(descendants $mp); do
            [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$(readlink -f "$HETFL")" ] && echo $p; done)
  [ "$(echo $ranks | wc -w)" = 2 ] && break
  sleep 0.05
done
check "mpirun -n 2: both ranks seen" test "$(echo $ranks | wc -w)" = 2
wait_caught 15 $ranks || echo "# the ranks' handlers were not seen"
kill -TERM $ranks 2>/dev/null; wait $mp; rc=$?
check "SIGTERM to both ranks while starting: mpirun exits 3 (got $rc)" test $rc = 3
check "SIGTERM to both ranks while starting: message once" \
  test "$(grep -c 'stopped by SIGTERM while the run was starting' "$d/err")" = 1
after "SIGTERM to both ranks while starting" "$d"

# 3. --resume: a stopped run's file, a signal before its first resumed round: exit 3,
# the file exactly as it was, resumable afterwards
d=$TMP/resume; mkdir -p "$d"
"$HETFL" run "$S" -o "$d/prev.h5" --set federation.rounds=4 --set run.checkpoint_every=1 > /dev/null 2>&1
check "a results file to resume" test -s "$d/prev.h5"
cp "$d/prev.h5" "$d/prev.orig"
(cd "$d" && ulimit -c 0 && exec "$HETFL" run "$S" --set federation.rounds=4 --set run.checkpoint_every=1 \
   --resume "$d/prev.h5") > "$d/log" 2> "$d/err" & pid=$!
wait_caught 15 $pid; kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM while resuming starts: exit 3 (got $rc)" test $rc = 3
check "SIGTERM while resuming starts: message" \
  grep -q "stopped by SIGTERM while the run was starting .*; the results file is as it was" "$d/err"
check "SIGTERM while resuming starts: the file is unchanged" cmp -s "$d/prev.h5" "$d/prev.orig"
check "SIGTERM while resuming starts: no temporary file" test -z "$(ls "$d" | grep -F .tmp- || true)"

finish
