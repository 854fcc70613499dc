#!/usr/bin/env bash
# A dying rank: SIGKILL one rank of a 3-rank run mid-way.  The job must end
# (Open MPI aborts it; no rank may hang in a collective), with a clear message
# naming the dead rank, and the results file must stay readable with every
# completed round: h5dump works and /rounds has exactly the rounds printed.
# Done for a worker rank (1) and for rank 0, the writer.
. "$(dirname "$0")/lib.sh"
need_fmnist
S=$HETFL_SRCDIR/tests/data/tiny.conf

for victim in 1 0; do
  f=$TMP/dying-$victim.h5 log=$TMP/dying-$victim.log
  "$MPIEXEC" -n 3 $OVERSUB "$HETFL" run "$S" -o "$f" --set federation.rounds=40 \
    --set federation.local_epochs=3 --set model.hidden=100 --set run.checkpoint_every=0 \
    > "$log" 2>&1 & mp=$!
  K=$((2 + RANDOM % 4))
  for i in $(seq 600); do grep -Eq "^round +$K/" "$log" && break; sleep 0.05; done
  # the rank's pid: a process below mpirun whose environment says OMPI_COMM_WORLD_RANK=victim
  # (Open MPI) or PMI_RANK=victim (MPICH's Hydra, which puts a proxy in between)
  pid= ranks=
  for c in $(descendants $mp); do
    [ "$(cat /proc/$c/comm 2>/dev/null)" = hetfl ] || continue
    ranks="$ranks $c"
    if tr '\0' '\n' < /proc/$c/environ 2>/dev/null | grep -Eqx "(OMPI_COMM_WORLD_RANK|PMI_RANK)=$victim"; then
      pid=$c
    fi
  done
  check "rank $victim found (pid ${pid:-none}) after round $K" test -n "$pid"
  [ -n "$pid" ] && kill -9 "$pid"
  t0=$(date +%s)
  # the job must end by itself: give it 60 s, then report a hang
  for i in $(seq 600); do kill -0 $mp 2>/dev/null || break; sleep 0.1; done
  if kill -0 $mp 2>/dev/null; then
    bad "rank $victim killed: the job hangs"; kill -9 $mp; wait $mp
    continue
  fi
  wait $mp; rc=$?
  # mpirun may return before the surviving ranks are gone (they still hold the
  # HDF5 file lock): the job has ended when every rank process has
  for i in $(seq 300); do
    alive=; for c in $ranks; do kill -0 $c 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break; sleep 0.1
  done
  check "rank $victim killed: every rank process has exited" test -z "$alive"
  echo "# rank $victim killed after round $K: mpirun exited $rc in $(( $(date +%s) - t0 )) s"
  check "rank $victim killed: job fails (status $rc != 0)" test $rc != 0
  # Open MPI names the rank; MPICH's Hydra names its pid ("BAD TERMINATION ... PID N ... EXIT CODE: 9")
  check "rank $victim killed: clear message naming the rank" \
    grep -Eq "process rank $victim .*(exited on signal 9|Killed)|PID ${pid:-none} RUNNING AT" "$log"
  check "rank $victim killed: results file readable by h5dump" "$H5DUMP" "$f" > /dev/null
  done_rounds=$(grep -Ec "^round +[0-9]+/" "$log")
  n=$(nrows "$f" /rounds)
  echo "# $done_rounds rounds printed, /rounds has ${n:-?} rows, /participation $(nrows "$f" /participation)"
  # rank 0 flushes a round before printing it: killed in between, one more row is on disk
  [ "$victim" = 0 ] && [ "${n:-0}" = $((done_rounds + 1)) ] && done_rounds=$n
  check "rank $victim killed: /rounds rows = completed rounds ($n = $done_rounds)" test "${n:-x}" = "$done_rounds"
  check "rank $victim killed: /participation = 7 rows per round" test "$(nrows "$f" /participation)" = $((7 * ${n:-0}))
  check "rank $victim killed: no temporary file left" test -z "$(ls "$TMP" | grep '\.tmp-' || true)"
done
finish
