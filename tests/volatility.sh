#!/usr/bin/env bash
# Volatility (issue 5): availability on, mid-round drop-outs, selection policies and
# corrections keep the determinism contract for 1, 2 and 3 ranks; drop-outs happen
# and are recorded; `hetfl trace` gen/stats/convert work and reject bad traces.
. "$(dirname "$0")/lib.sh"
S=$HETFL_SRCDIR/suites/availability-bias.conf
common="--quiet --set federation.rounds=12 --set availability.slot_s=0.05"
for cfg in "uniform none" "poc unbiased" "uniform cafed" "f3ast none" "forecast none"; do
  set -- $cfg
  tag=$1-$2
  for n in 1 2 3; do
    run_mpi $n run "$S" $common -o "$TMP/$tag-$n.h5" --set selection.policy=$1 \
      --set aggregation.correction=$2 > "$TMP/log" 2>&1 || { cat "$TMP/log"; bad "run $tag n=$n"; continue; }
  done
  for n in 2 3; do
    check "$tag: $n ranks == 1 rank (hetfl compare)" "$HETFL" compare "$TMP/$tag-1.h5" "$TMP/$tag-$n.h5"
  done
done
# asynchronous mode (FedBuff, async.c): the planned schedule, staleness and drop-outs keep
# the contract for 1, 2 and 3 ranks
for n in 1 2 3; do
  run_mpi $n run "$S" $common -o "$TMP/async-$n.h5" --set federation.mode=async --set async.buffer=4 \
    --set async.concurrency=8 > "$TMP/log" 2>&1 || { cat "$TMP/log"; bad "run async n=$n"; }
done
for n in 2 3; do
  check "async: $n ranks == 1 rank (hetfl compare)" "$HETFL" compare "$TMP/async-1.h5" "$TMP/async-$n.h5"
done
check "async differs from the synchronous run" sh -c "! '$HETFL' compare '$TMP/async-1.h5' \
  '$TMP/uniform-none-1.h5' > /dev/null 2>&1"
"$HETFL" run "$S" $common -o "$TMP/async-bad.h5" --set federation.mode=async \
  --set selection.policy=poc > /dev/null 2> "$TMP/err"; rc=$?
check "async rejects another selection policy: exit 2, key named" \
  sh -c "[ $rc = 2 ] && grep -q \"key 'selection.policy'\" '$TMP/err'"
# drop-outs happen with a fast-changing availability, and rounds see fewer than all online
if [ -n "${H5DUMP:-}" ] && [ "$H5DUMP" != no ]; then
  "$H5DUMP" -d /participation "$TMP/uniform-none-1.h5" > "$TMP/part.txt" 2>&1
  check "some selected clients are dropped_offline" grep -qi dropped_offline "$TMP/part.txt"
  N=$(nrows "$TMP/uniform-none-1.h5" /clients)
  check "/rounds.available: at most the $N clients, below it in some round, never below selected" awk -v N="$N" '
    { if ($1 > N || $2 > $1) bad = 1; if ($1 < N) some = 1 } END { exit bad || !some || NR == 0 }' \
    <(cols "$TMP/uniform-none-1.h5" /rounds available selected)
  for tag in uniform-none poc-unbiased uniform-cafed f3ast-none forecast-none; do
    check "$tag: /rounds columns recomputed from /participation and /clients" \
      tables_consistent "$TMP/$tag-1.h5" "$(sed -n 's/^eval_every *= *//p' "$S" | head -1)"
  done
fi
# drop-out timing (tests/data/avail-dropout.csv): client 0 goes offline at T = 2.5 s while
# training (slow class: its planned finish is ~3.9 s); it is recorded as dropped_offline, with
# no steps, and charged compute_s_model + comm_s = T exactly (sync round and async job)
if [ -n "${H5DUMP:-}" ] && [ "$H5DUMP" != no ]; then
  D="--quiet --set data.synthetic_devices=3 --set federation.clients=3 --set federation.clients_per_round=3
     --set federation.rounds=1 --set devices.gflops=0.00005 --set devices.jitter=0 --set selection.policy=uniform
     --set aggregation.correction=none --set availability.model=trace
     --set availability.file=$HETFL_SRCDIR/tests/data/avail-dropout.csv --set async.buffer=2 --set async.concurrency=3"
  for mode in centralized async; do
    "$HETFL" run "$S" $D --set federation.mode=$mode -o "$TMP/drop-$mode.h5" > "$TMP/log" 2>&1 || cat "$TMP/log"
    cols -x "$TMP/drop-$mode.h5" /participation client outcome steps compute_s_model comm_s > "$TMP/rows-$mode"
    check "$mode: client 0 dropped_offline at T: compute_s_model + comm_s = 2.5, mid-compute" \
      awk '$1 == 0 && $2 == "dropped_offline" && $3 == 0 && $4 > 0 && $5 > 0 {
           d = $4 + $5 - 2.5; if (d * d < 1e-24) ok = 1 } END { exit !ok }' "$TMP/rows-$mode"
    check "$mode: the others completed" awk '$2 == "completed" { n++ } END { exit n < 2 }' "$TMP/rows-$mode"
  done
  # async: with concurrency 8 > buffer 4 some updates are stale (the staleness column)
  cols "$TMP/async-1.h5" /participation outcome staleness > "$TMP/rows-async"
  check "async: /participation.staleness > 0 for some completed updates" \
    awk '$1 == "completed" && $2 + 0 > 0 { s = 1 } END { exit !s }' "$TMP/rows-async"
  check "async: clients go offline mid-job (dropped_offline rows)" grep -q '^dropped_offline ' "$TMP/rows-async"
  check "async: one /rounds row per server update" \
    sh -c "'$H5DUMP' -d /rounds '$TMP/async-1.h5' | grep -q 'DATASPACE  SIMPLE { ( 12 )'"
fi
# data transfer to participants (availability.transfer): off by default changes nothing;
# on, the contract holds for 1, 2 and 3 ranks; bytes = samples moved x (60 features x 4 + 4)
run_mpi 1 run "$S" $common -o "$TMP/xfer-off.h5" --set availability.transfer=no \
  --set availability.transfer_fraction=0.3 > "$TMP/log" 2>&1 || cat "$TMP/log"
check "transfer = no (keys set) == a run without the keys (hetfl compare)" \
  "$HETFL" compare "$TMP/uniform-none-1.h5" "$TMP/xfer-off.h5" --ignore-key availability.transfer \
  --ignore-key availability.transfer_fraction
for n in 1 2 3; do
  run_mpi $n run "$S" $common -o "$TMP/xfer-$n.h5" --set availability.transfer=yes \
    --set availability.transfer_bw_mbps=50 > "$TMP/log" 2>&1 || { cat "$TMP/log"; bad "run transfer n=$n"; }
done
for n in 2 3; do
  check "transfer: $n ranks == 1 rank (hetfl compare)" "$HETFL" compare "$TMP/xfer-1.h5" "$TMP/xfer-$n.h5"
done
check "transfer changes the results (not only /config)" sh -c "! '$HETFL' compare '$TMP/xfer-1.h5' \
  '$TMP/uniform-none-1.h5' --ignore-key availability.transfer --ignore-key availability.transfer_bw_mbps \
  > '$TMP/cmp' 2>&1 && ! grep -q '/config differs' '$TMP/cmp'"
if [ -n "${H5DUMP:-}" ] && [ "$H5DUMP" != no ]; then
  cols "$TMP/xfer-1.h5" /participation samples_data bytes_data > "$TMP/rows-xfer"
  cols "$TMP/uniform-none-1.h5" /participation samples_data bytes_data > "$TMP/rows-plain"
  check "transfer: participants received data (samples_data > 0)" \
    awk '$1 + 0 > 0 { s = 1 } END { exit !s }' "$TMP/rows-xfer"
  check "transfer: bytes_data = samples_data x 244 on every row" \
    awk 'NF == 2 { n++; if ($2 + 0 != ($1 + 0) * 244) bad = 1 } END { exit bad || !n }' "$TMP/rows-xfer"
  check "transfer off: samples_data = bytes_data = 0 on every row" \
    awk 'NF == 2 { n++; if ($1 + 0 != 0 || $2 + 0 != 0) bad = 1 } END { exit bad || !n }' "$TMP/rows-plain"
  # one client, one round, always online, a donor always offline: exact counts and time
  printf '0,0,1000\n' > "$TMP/one-on.csv"
  X="--quiet --set data.synthetic_devices=2 --set federation.clients=2 --set federation.clients_per_round=1
     --set federation.rounds=1 --set devices.jitter=0 --set selection.policy=uniform
     --set aggregation.correction=none --set availability.model=trace --set availability.file=$TMP/one-on.csv
     --set availability.transfer_fraction=0.5 --set availability.transfer_bw_mbps=8"
  "$HETFL" run "$S" $X -o "$TMP/x1-off.h5" > "$TMP/log" 2>&1 || cat "$TMP/log"
  "$HETFL" run "$S" $X --set availability.transfer=yes -o "$TMP/x1-on.h5" > "$TMP/log" 2>&1 || cat "$TMP/log"
  nd=$(cols "$TMP/x1-on.h5" /clients id samples | awk '$1 == 1 { print $2 }')
  # the round-1 row of each run: comm_s without transfer | comm_s, samples_data, bytes_data with it
  paste -d ' ' <(cols -x "$TMP/x1-off.h5" /participation round comm_s | awk '$1 == 1 { print $2 }') \
    <(cols -x "$TMP/x1-on.h5" /participation round comm_s samples_data bytes_data | awk '$1 == 1 { print $2, $3, $4 }') \
    > "$TMP/x1"
  # samples = ceil(0.5 n_1); time = latency + bytes x 8 / 8e6 added to comm_s (1 MB/s)
  check "transfer: client 0 gets ceil(n_1/2) of client 1's $nd samples, charged bytes/1e6 s" \
    awk -v nd="$nd" 'NF == 4 { s = $3 + 0; b = $4 + 0; want = int((nd + 1) / 2)
      lat = $2 - $1 - b / 1e6; ok = s == want && b == s * 244 && lat >= 0 && lat < 1 }
      END { exit !ok }' "$TMP/x1"
fi
# a different seed differs (the comparison can fail)
run_mpi 1 run "$S" $common -o "$TMP/seed9.h5" --seed 9 > /dev/null 2>&1
if "$HETFL" compare "$TMP/uniform-none-1.h5" "$TMP/seed9.h5" > /dev/null 2>&1; then
  bad "a different seed gives different results"; else ok "a different seed gives different results"; fi
# trace tools
check "trace gen markov" "$HETFL" trace gen --model markov --clients 10 --pi 0.3 --lambda 0.5 -o "$TMP/m.csv"
check "trace stats" sh -c "'$HETFL' trace stats '$TMP/m.csv' | grep -q mean_availability"
check "trace gen with withdrawals" "$HETFL" trace gen --model cyclic --clients 8 --withdraw-fraction 0.5 \
  --withdraw-at-s 1800 --horizon-s 7200 -o "$TMP/w.csv"
check "a suite runs from a trace file" run_mpi 2 run "$S" $common -o "$TMP/tr.h5" \
  --set availability.model=trace --set availability.file="$TMP/m.csv" --set federation.clients=10 \
  --set federation.clients_per_round=4 --set data.synthetic_devices=10
printf '0,0,10\n0,5,20\n' > "$TMP/bad.csv"
"$HETFL" trace stats "$TMP/bad.csv" > /dev/null 2> "$TMP/err"; rc=$?
check "overlapping intervals: exit 2 with FILE:LINE" sh -c "[ $rc = 2 ] && grep -q 'bad.csv:2:' '$TMP/err'"
f=${SHARED_DATA:-}/availability/aws-spot-instances-g4dn-xlarge-us-east-1c-2020-11-20-1930-to-2020-11-21-2200.csv
if [ -f "$f" ]; then
  check "import the AWS spot step trace" "$HETFL" trace convert --from steps "$f" -o "$TMP/aws.csv"
  check "imported trace loads" "$HETFL" trace stats "$TMP/aws.csv"
else echo "skip: $f absent"; fi
finish
