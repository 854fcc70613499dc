#!/usr/bin/env bash
# Signals from the first instant (issue #21, class 6): `hetfl run` handles
# SIGTERM / SIGUSR1 / SIGINT from main(), before MPI_Init, so a signal that
# arrives while the run starts (MPI start-up, data loading, setup) is exit 3
# with a message -- what an `sbatch --requeue` script expects -- never the
# default action's 143 / 138: nothing to resume, no results file, no
# temporary file, no core, and a pre-existing file given to --resume unchanged.
# Between the server updates of asynchronous mode: exit 3 after a checkpoint, resumed
# bitwise on another rank count (section 4).
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

# 4. asynchronous mode (FedBuff) between server updates: SIGTERM after update K is
# printed -> the update ends, a checkpoint is written (no periodic ones here), exit 3;
# --resume on 3 ranks gives the uninterrupted run's file (the updates trained but not
# applied when it stopped are in the checkpoint).  Likewise SIGUSR1 to mpirun -n 2, resumed
# on 1 rank.
A=$TMP/async.conf
cat > "$A" <<'EOF2'
[data]
dataset = synthetic
partition = dirichlet
train_samples = 2400
[model]
arch = mlp
hidden = 64
[federation]
mode = async
clients = 12
rounds = 120
local_epochs = 2
batch_size = 10
[async]
concurrency = 6
buffer = 2
[run]
checkpoint_every = 0
EOF2
attr() { "$H5DUMP" -a "$2" "$1" 2>/dev/null | sed -n 's/^ *(0): \(.*\)$/\1/p'; }
ckpt_round() { local c; c=$(attr "$1" /checkpoint/current); attr "$1" "/checkpoint/slot$c/round"; }
wait_update() {  # K LOG: until the run in the background ($pid) prints update K
  local i; for i in $(seq 1200); do
    grep -Eq "^update +$1/" "$2" && return 0; kill -0 "$pid" 2>/dev/null || return 1; sleep 0.025; done
  return 1
}
"$HETFL" run "$A" --quiet -o "$TMP/async-ref.h5" > "$TMP/async-ref.log" 2>&1
check "async: uninterrupted reference run" test $? = 0
d=$TMP/async-term; mkdir -p "$d"
(cd "$d" && ulimit -c 0 && exec "$HETFL" run "$A" -o "$d/out.h5") > "$d/log" 2> "$d/err" & pid=$!
wait_update 3 "$d/log"; kill -TERM $pid; wait $pid; rc=$?
n=$(nrows "$d/out.h5" /rounds); c=$(ckpt_round "$d/out.h5")
echo "# async: stopped after update ${n:-?} of 120"
check "async, SIGTERM after update 3: exit 3 (got $rc)" test $rc = 3
check "async, SIGTERM: message" grep -Eq "stopped by SIGTERM after round [0-9]+ of 120; checkpoint written" "$d/err"
check "async, SIGTERM: checkpoint at the last recorded update ($c = $n), after the signal" \
  test "${c:-x}" = "${n:-y}" -a "${n:-0}" -ge 3 -a "${n:-0}" -lt 120
check "async, SIGTERM: no temporary file, no core" test -z "$(ls "$d" | grep -E '\.tmp-|^core' || true)"
run_mpi 3 run "$A" --quiet --resume "$d/out.h5" > "$d/res.log" 2>&1
check "async, SIGTERM + --resume on 3 ranks: exit 0" test $? = 0
check "async, SIGTERM + --resume = uninterrupted (hetfl compare)" "$HETFL" compare "$TMP/async-ref.h5" "$d/out.h5"
d=$TMP/async-usr1; mkdir -p "$d"
(cd "$d" && ulimit -c 0 && exec "$MPIEXEC" -n 2 $OVERSUB "$HETFL" run "$A" -o "$d/out.h5") > "$d/log" 2> "$d/err" &
pid=$!
wait_update 3 "$d/log"; kill -USR1 $pid; wait $pid; rc=$?
n=$(nrows "$d/out.h5" /rounds)
echo "# async, 2 ranks: stopped after update ${n:-?} of 120"
check "async, SIGUSR1 to mpirun -n 2: exit 3 (got $rc)" test $rc = 3
check "async, SIGUSR1: checkpoint at the last recorded update" test "$(ckpt_round "$d/out.h5")" = "${n:-y}"
"$HETFL" run "$A" --quiet --resume "$d/out.h5" > "$d/res.log" 2>&1
check "async, SIGUSR1 + --resume on 1 rank: exit 0" test $? = 0
check "async, SIGUSR1 + --resume = uninterrupted (hetfl compare)" "$HETFL" compare "$TMP/async-ref.h5" "$d/out.h5"

finish
