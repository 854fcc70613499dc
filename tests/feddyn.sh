#!/usr/bin/env bash
# FedDyn (src/strategies/feddyn.c), the strategy added as one file:
#  - with alpha = 0 the local problem is plain SGD and one round of FedDyn is
#    x_0 + (1 + K/N)·mean Δ_k: FedAvg with server.lr = 1 + K/N on equal client
#    sizes (tiny.conf: 3000 samples over 20 IID clients, K = 7) — pinned within
#    1e-6, and measurably not plain FedAvg;
#  - alpha > 0 changes the result (the regularizer is on), and the runs are
#    bitwise identical on 1, 2 and 3 ranks, either topology;
#  - SIGTERM mid-run, then --resume on another rank count equals the
#    uninterrupted run (client and server state checkpointed).
. "$(dirname "$0")/lib.sh"
need_fmnist
S=$HETFL_SRCDIR/tests/data/tiny.conf
DYN=(--set federation.strategy=feddyn)
model_close() { h5diff -d "$3" "$1" "$2" /model/final /model/final > /dev/null 2>&1; }

"$HETFL" run "$S" --quiet -o "$TMP/dyn0.h5" "${DYN[@]}" --set feddyn.alpha=0 --set federation.rounds=1 > /dev/null 2>&1
check "feddyn alpha=0, 1 round: runs" test $? = 0
"$HETFL" run "$S" --quiet -o "$TMP/avg135.h5" --set server.lr=1.35 --set federation.rounds=1 > /dev/null 2>&1
"$HETFL" run "$S" --quiet -o "$TMP/avg1.h5" --set federation.rounds=1 > /dev/null 2>&1
check "feddyn alpha=0 = fedavg with server.lr = 1 + 7/20 (1e-6)" model_close "$TMP/dyn0.h5" "$TMP/avg135.h5" 1e-6
check "feddyn alpha=0 is not plain fedavg (differs by > 1e-4)" bash -c "! h5diff -d 1e-4 '$TMP/dyn0.h5' '$TMP/avg1.h5' /model/final /model/final > /dev/null 2>&1"

A=("${DYN[@]}" --set feddyn.alpha=0.1 --set federation.rounds=20 --set federation.local_epochs=3 --set model.hidden=100 --set run.checkpoint_every=2)
"$HETFL" run "$S" --quiet -o "$TMP/r1.h5" "${A[@]}" > /dev/null 2>&1
check "feddyn alpha=0.1: 1 rank" test $? = 0
"$HETFL" run "$S" --quiet -o "$TMP/dyn0-6.h5" "${DYN[@]}" --set feddyn.alpha=0 --set federation.rounds=20 --set federation.local_epochs=3 --set model.hidden=100 > /dev/null 2>&1
check "alpha 0.1 changes the model (differs from alpha 0 by > 1e-4)" bash -c "! h5diff -d 1e-4 '$TMP/r1.h5' '$TMP/dyn0-6.h5' /model/final /model/final > /dev/null 2>&1"
run_mpi 2 run "$S" --quiet -o "$TMP/r2.h5" "${A[@]}" > /dev/null 2>&1
check "2 ranks = 1 rank" "$HETFL" compare "$TMP/r1.h5" "$TMP/r2.h5"
run_mpi 3 run "$S" --quiet -o "$TMP/r3.h5" "${A[@]}" --set aggregation.topology=allreduce > /dev/null 2>&1
check "3 ranks, allreduce = 1 rank" "$HETFL" compare "$TMP/r1.h5" "$TMP/r3.h5"

# SIGTERM after round 3 is printed: exit 3 with a checkpoint; resume on 2 ranks
"$HETFL" run "$S" -o "$TMP/term.h5" "${A[@]}" > "$TMP/term.log" 2>&1 & pid=$!
for i in $(seq 600); do grep -Eq "^round +3/" "$TMP/term.log" && break; sleep 0.05; done
kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM: exit 3 (got $rc)" test $rc = 3
run_mpi 2 run "$S" --quiet --resume "$TMP/term.h5" "${A[@]}" > "$TMP/resume.log" 2>&1
check "resume on 2 ranks: exit 0" test $? = 0
check "resumed run = uninterrupted run" "$HETFL" compare "$TMP/r1.h5" "$TMP/term.h5"
finish
