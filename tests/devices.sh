#!/usr/bin/env bash
# Devices (issue 4): device classes, hwloc placement, the simulated clock and
# round policies end to end.  Determinism with five classes and a deadline
# across 1/2/3 ranks and both topologies (drop-late, partial work,
# over-commitment, dynamic backup workers); /system/placement; outcomes;
# `hetfl list` and `hetfl validate`.
. "$(dirname "$0")/lib.sh"
need_fmnist
S=$HETFL_SRCDIR/tests/data/tiny.conf
# five library classes; a deadline that phone-low (≈1.6 s of upload alone) misses
# (tiny: 150 samples per client, 784-32-10 MLP, here E=5, B=16)
CL=(--set devices.classes=phone-low:1,phone-mid:1,phone-high:1,laptop:1,edge-server:1
    --set federation.deadline_s=1.65 --set federation.rounds=4 --set federation.local_epochs=5)
declare -A POL=([drop]="" [partial]="--set federation.partial_work=yes"
                [over]="--set federation.overcommit=1.3" [dbw]="--set federation.backup_workers=dynamic")
for pol in drop partial over dbw; do
  for n in 1 2 3; do
    topo=rank0; [ $n = 3 ] && topo=allreduce
    # shellcheck disable=SC2086
    run_mpi $n run "$S" --quiet -o "$TMP/$pol-$n.h5" "${CL[@]}" ${POL[$pol]} \
      --set aggregation.topology=$topo > "$TMP/log-$pol-$n" 2>&1 \
      || { cat "$TMP/log-$pol-$n"; bad "run $pol n=$n"; }
  done
  for n in 2 3; do
    check "$pol: $n ranks == 1 rank (hetfl compare)" "$HETFL" compare "$TMP/$pol-1.h5" "$TMP/$pol-$n.h5"
  done
done
# the policies leave their marks in /participation.outcome and /rounds
if [ -n "${H5DUMP:-}" ] && [ "$H5DUMP" != no ]; then
  # rows of the enum names in /participation's data block (not the type header, not the attributes)
  outc() { "$H5DUMP" -d /participation "$1" | sed -n '/^   DATA {/,/^   }$/p' | grep -o -w "$2" | wc -l; }
  # every /rounds row: selected (field 5) = 10 and completed (field 6) <= 7
  over_ok() { "$H5DUMP" -d /rounds "$1" | awk '/^ *\([0-9]+\): \{/ {i = 0; n++; next}
      n > 0 {i++; if (i == 5 && $1 != "10,") bad = 1; if (i == 6 && $1 + 0 > 7) bad = 1}
      END {exit bad || n != 4}'; }
  check "drop: some clients late" test "$(outc "$TMP/drop-1.h5" late)" -gt 0
  check "drop: nobody partial" test "$(outc "$TMP/drop-1.h5" partial)" = 0
  check "partial: some clients partial" test "$(outc "$TMP/partial-2.h5" partial)" -gt 0
  check "over: some clients overcommitted" test "$(outc "$TMP/over-3.h5" overcommitted)" -gt 0
  check "dbw: some backup workers not waited for" test "$(outc "$TMP/dbw-2.h5" backup)" -gt 0
  # over-commitment selects ceil(1.3*7) = 10 clients and keeps at most 7 per round
  check "over: 10 selected, <= 7 completed in each of 4 rounds" over_ok "$TMP/over-1.h5"
  check "/clients.device_class holds class names" \
    sh -c "'$H5DUMP' -d /clients '$TMP/drop-1.h5' | grep -q phone-mid"
  check "/system/placement is a table with one row per rank" \
    sh -c "'$H5DUMP' -d /system/placement '$TMP/drop-3.h5' | grep -q 'DATASPACE  SIMPLE { ( 3 )'"
  check "/system keeps the placement attribute" \
    sh -c "'$H5DUMP' -a /system/placement '$TMP/drop-2.h5' | grep -q 'rank host class'"
  # the deadline: a round with a late client lasts exactly the deadline
  check "drop: round 1 ends at the deadline" sh -c "'$H5DUMP' -d /rounds '$TMP/drop-1.h5' | grep -q '^ *1.65,'"
  # every kept client (completed, partial) finishes within the deadline; a round lasts
  # until its slowest kept client, or the whole deadline when it waited for a late one
  deadline_ok() {
    awk 'function no(w) { bad = 1; print "  round " r ": " w }
      FNR == NR { r = $1; if ($3 == "completed" || $3 == "partial") {
                    f = $4 + $5; if (f > 1.65 + 1e-9) no("client " $2 " finishes at " f)
                    if (f > slow[r]) slow[r] = f }
                  if ($3 == "late") late[r] = 1; next }
      { r = $1; d = $2 - prev; prev = $2; want = late[r] ? 1.65 : slow[r]
        if ((d - want) ^ 2 > 1e-18) no("lasts " d ", want " want); n++ }
      END { exit bad || n != 4 }' <(cols -x "$1" /participation round client outcome comm_s compute_s_model) \
      <(cols -x "$1" /rounds round sim_time_s)
  }
  for pol in drop partial over dbw; do
    check "$pol: /rounds columns recomputed from /participation and /clients" tables_consistent "$TMP/$pol-1.h5" 2
  done
  check "drop: kept clients finish within the deadline; round = slowest kept or the deadline" \
    deadline_ok "$TMP/drop-1.h5"
  check "partial: the same with partial work" deadline_ok "$TMP/partial-1.h5"
fi
# placement printed at start (one row per rank), with the class of each rank
run_mpi 3 run "$S" -o "$TMP/p.h5" "${CL[@]}" > "$TMP/plog" 2>&1
check "placement printed at start (3 ranks)" grep -q "^  2 [^ ]* [a-z-]* [0-9]* [0-9]* " "$TMP/plog"
check "too few cores said once" test "$(grep -c 'placement: .* oversubscribed' "$TMP/plog")" -le 1
# a different policy changes the result (the check can fail)
if "$HETFL" compare "$TMP/drop-1.h5" "$TMP/partial-1.h5" > /dev/null 2>&1; then
  bad "partial work differs from drop-late"; else ok "partial work differs from drop-late"; fi
# list and validate
check "hetfl list shows the class library" sh -c "'$HETFL' list | grep -q 'edge-server .*50.7'"
run_mpi 2 validate "$S" "${CL[@]}" > "$TMP/val" 2>&1
check "hetfl validate shows the placement" grep -q "rank 1: clients 10-19, class" "$TMP/val"
# bad input: exit 2 with FILE:LINE-style messages
"$HETFL" validate "$S" --set devices.classes=phone-lo:1 > "$TMP/bad" 2>&1; rc=$?
check "unknown class: exit 2" test $rc = 2
check "unknown class: did you mean" grep -q "did you mean 'phone-low'" "$TMP/bad"
finish
