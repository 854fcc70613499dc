#!/usr/bin/env bash
# Energy and carbon end to end: clients in regions of the shipped carbon
# profiles get carbon_g = energy_j x intensity, rounds sum their participants
# exactly, results stay bitwise identical for 1 and 3 ranks with regions
# (determinism contract), RAPL read from a fake powercap tree fills the
# measured columns (NaN and one warning without counters), `hetfl carbon`;
# energy budgets (over_budget exactly when exhausted, adaptive auto strategy),
# the carbon-aware sampler across 1/2/3 ranks, and bytes_up = encoded sizes.
. "$(dirname "$0")/lib.sh"
need_fmnist
S=$HETFL_SRCDIR/tests/data/tiny.conf
REG=(--set "energy.carbon_file=$HETFL_SRCDIR/traces/carbon"
     --set "energy.regions=BPAT:1,CISO:1,ERCO:1,NYIS:1,PJM:1" --set energy.start=2022-07-01T18:00Z)
# fake RAPL tree: a package and a dram zone (static counters: measured energy 0, not NaN;
# deltas and wrap-around are unit-tested in test_energy)
R=$TMP/powercap; mkdir -p "$R/intel-rapl:0/intel-rapl:0:0" "$R/intel-rapl:0:0"
echo package-0 > "$R/intel-rapl:0/name"; echo 1000 > "$R/intel-rapl:0/energy_uj"
echo 262143328850 > "$R/intel-rapl:0/max_energy_range_uj"
echo dram > "$R/intel-rapl:0:0/name"; echo 5 > "$R/intel-rapl:0:0/energy_uj"
echo 65712999613 > "$R/intel-rapl:0:0/max_energy_range_uj"
run_mpi 1 run "$S" --quiet -o "$TMP/r1.h5" "${REG[@]}" --set "energy.rapl_root=$R" > "$TMP/log1" 2>&1 ||
  { cat "$TMP/log1"; bad "run with regions, 1 rank"; }
run_mpi 3 run "$S" --quiet -o "$TMP/r3.h5" "${REG[@]}" --set energy.rapl_root=$TMP/none > "$TMP/log3" 2>&1 ||
  { cat "$TMP/log3"; bad "run with regions, 3 ranks"; }
check "regions: 3 ranks == 1 rank (hetfl compare ignores the measured columns)" \
  "$HETFL" compare --ignore-key energy.rapl_root "$TMP/r1.h5" "$TMP/r3.h5"
check "absent RAPL: exactly one warning" [ "$(grep -c 'measured energy unavailable' "$TMP/log3")" = 1 ]
if [ -n "${H5DUMP:-}" ] && [ "$H5DUMP" != no ]; then
  F=$TMP/r1.h5
  cols -x "$F" /participation round energy_j carbon_g energy_j_measured > "$TMP/p1"
  cols -x "$F" /rounds round energy_j carbon_g energy_j_measured > "$TMP/r"
  check "rounds: energy_j and carbon_g are the sums of their participants" awk '
    NR == FNR { e[$1] += $2; c[$1] += $3; next }
    { if ((e[$1] - $2)^2 > 1e-24 * $2^2 || (c[$1] - $3)^2 > 1e-24 * $3^2) bad = 1; n++ }
    END { exit bad || n == 0 }' "$TMP/p1" "$TMP/r"
  # the intensity of the client's region (/clients) in the profile's July row, at the hour
  # in progress when its round starts (18:00 UTC + the previous round's end)
  cols "$F" /clients id region > "$TMP/cl"
  cols -x "$F" /rounds round sim_time_s > "$TMP/ro"
  cols -x "$F" /participation round client outcome energy_j carbon_g > "$TMP/pc"
  check "carbon_g = energy_j x its region's profile intensity at the round's start hour" awk -F'[ ,]' '
    FILENAME ~ /csv$/ { if ($2 == 7) for (h = 0; h < 24; h++) ci[$1, h] = $(3 + h); next }
    FILENAME ~ /cl$/ { reg[$1] = $2; next }
    FILENAME ~ /ro$/ { start[$1 + 1] = $2; next }
    { h = (18 + int(start[$1] / 3600)) % 24; want = $4 * ci[reg[$2], h] / 3.6e6; d = $5 - want
      if (d < 0) d = -d; if (!(ci[reg[$2], h] > 0) || d > 1e-12 * want) bad = 1; n++ }
    END { exit bad || n == 0 }' "$HETFL_SRCDIR"/traces/carbon/*.csv "$TMP/cl" "$TMP/ro" "$TMP/pc"
  check "fake RAPL tree: measured energy read (0 J from static counters, not NaN)" awk '
    { if ($4 != "0") bad = 1 } END { exit bad || NR == 0 }' "$TMP/p1"
  F=$TMP/r3.h5
  col -x "$F" /participation energy_j_measured > "$TMP/m3"
  check "absent RAPL: measured energy is NaN" awk '$1 != "nan" { bad = 1 } END { exit bad || NR == 0 }' "$TMP/m3"
fi
# --- wired into the round loop (fed.c): budgets, carbon-aware sampler, codecs ---
if [ -n "${H5DUMP:-}" ] && [ "$H5DUMP" != no ]; then
  # (a) battery budgets, exclusion: with jitter 0 and equal n_k every full round costs the same E;
  # a participation is completed exactly while the remaining budget pays E, else over_budget (0 J)
  B=0.08
  run_mpi 1 run "$S" --quiet -o "$TMP/b.h5" --set federation.rounds=8 --set devices.jitter=0 \
    --set energy.budget_j=$B --set energy.compress=fp16 --set energy.measure=no > "$TMP/logb1" 2>&1 ||
    { cat "$TMP/logb1"; bad "run with budgets"; }
  F=$TMP/b.h5
  cols -x "$F" /participation round client outcome energy_j bytes_up | sort -n -k1,1 -k2,2 > "$TMP/pb"
  check "budgets: over_budget exactly when the remaining budget cannot pay a full round" awk -v B=$B '
    $3 == "completed" { if (E == "") E = $4; if (($4 - E)^2 > 1e-20 || over[$2]) bad = 1
                        spent[$2] += $4; if (spent[$2] > B * (1 + 1e-12)) bad = 1; nc++; next }
    $3 == "over_budget" { if ($4 != 0 || $5 != 0 || B - spent[$2] >= E) bad = 1; over[$2] = 1; no++; next }
    { bad = 1 }
    END { exit bad || nc == 0 || no == 0 }' "$TMP/pb"
  # the uncompressed upload is 4 P bytes: P from a plain run's bytes_up
  P=$(col "$TMP/r1.h5" /participation bytes_up | awk 'NR == 1 { print $1 / 4 }')
  check "fp16: bytes_up = 2 P (the encoded size)" awk -v P="$P" '
    $3 == "completed" { n++; if ($5 != 2 * P) bad = 1 } END { exit bad || n == 0 }' "$TMP/pb"
  # (b) carbon-aware sampler with a slack window and top-k uploads: bitwise identical on 1/2/3 ranks
  CA=("${REG[@]}" --set energy.start=2022-07-01T13:00Z --set energy.scheduler=carbon-aware --set energy.slack_h=3 --set energy.fair_alpha=0.5
      --set energy.compress=topk --set energy.topk_ratio=0.05 --set energy.measure=no)
  for n in 1 2 3; do
    run_mpi $n run "$S" --quiet -o "$TMP/ca$n.h5" "${CA[@]}" > "$TMP/logca$n" 2>&1 ||
      { cat "$TMP/logca$n"; bad "carbon-aware run, $n ranks"; }
  done
  check "carbon-aware: 2 ranks == 1 rank" "$HETFL" compare "$TMP/ca1.h5" "$TMP/ca2.h5"
  check "carbon-aware: 3 ranks == 1 rank" "$HETFL" compare "$TMP/ca1.h5" "$TMP/ca3.h5"
  F=$TMP/ca1.h5
  check "top-k: bytes_up = 4 + 8 ceil(0.05 P) (the encoded size)" awk -v P="$P" '
    BEGIN { k = 0.05 * P; k = (k == int(k)) ? k : int(k) + 1 }
    { n++; if ($1 != 4 + 8 * k) bad = 1 } END { exit bad || n == 0 }' \
    <(col "$F" /participation bytes_up)
  # at 13:00 UTC in July CISO and ERCO fall for the next three hours (profiles): the round waits
  check "carbon-aware: rounds deferred into the slack window (simulated time > 1 h)" awk '
    { if ($1 > 3600) ok = 1 } END { exit !ok }' \
    <(col -x "$F" /rounds sim_time_s)
  # (c) adaptive strategy auto (QSGD, then fewer steps) under budgets: 3 ranks == 1 rank,
  #     bytes_up = the QSGD encoding's size  Σ_buckets 32 + d_b (1 + ⌈log2(s+1)⌉) bits
  AU=(--set federation.rounds=6 --set energy.budget_j=0.05 --set energy.budget_spread=0.5
      --set energy.budget_strategy=auto --set energy.compress=qsgd --set energy.qsgd_levels=7
      --set energy.qsgd_bucket=100 --set energy.measure=no)
  run_mpi 1 run "$S" --quiet -o "$TMP/au1.h5" "${AU[@]}" > "$TMP/logau1" 2>&1 || { cat "$TMP/logau1"; bad "auto, 1 rank"; }
  run_mpi 3 run "$S" --quiet -o "$TMP/au3.h5" "${AU[@]}" > "$TMP/logau3" 2>&1 || { cat "$TMP/logau3"; bad "auto, 3 ranks"; }
  check "auto budgets: 3 ranks == 1 rank" "$HETFL" compare "$TMP/au1.h5" "$TMP/au3.h5"
  F=$TMP/au1.h5
  cols "$F" /participation outcome steps bytes_up > "$TMP/pau"
  check "qsgd: bytes_up = the encoded size" awk -v P="$P" '
    BEGIN { for (i = 0; i < P; i += 100) { d = P - i < 100 ? P - i : 100; bits += 32 + d * 4 }
            want = int((bits + 7) / 8) }
    $1 == "completed" { n++; if ($3 != want) bad = 1 } END { exit bad || n == 0 }' "$TMP/pau"
  check "auto: some rounds adapted to fewer local steps (budgets bind)" awk '
    $1 == "completed" { s[$2]++ } END { n = 0; for (k in s) n++; exit n < 2 }' "$TMP/pau"
fi
# unknown region → exit 2 with FILE:LINE
"$HETFL" validate "$S" --set energy.regions=ATLANTIS:1 > /dev/null 2>&1
run_mpi 1 run "$S" --quiet -o "$TMP/bad.h5" --set energy.regions=ATLANTIS:1 > "$TMP/logb" 2>&1
check "unknown region: exit 2" [ $? = 2 ]
check "unknown region: message names the region" grep -q "unknown region 'ATLANTIS'" "$TMP/logb"
# hetfl carbon: EIA-style → trace → profile
printf 'timestamp,WND,avg_CI\n2022-01-01 00:00:00+00:00,1,100\n2022-01-01 01:00:00+00:00,1,\n2022-01-01 02:00:00+00:00,1,300\n' > "$TMP/XY_NG.csv"
check "hetfl carbon import" "$HETFL" carbon import "$TMP/XY_NG.csv" "$TMP/xy.csv"
check "import: region from the file name, gap interpolated" grep -q '^2022-01-01T01:00:00Z,XY,200.0000$' "$TMP/xy.csv"
printf 'timestamp,region,gco2_per_kwh\n2022-01-01T00:00Z,A,1\n2022-01-01T03:00Z,A,1\n' > "$TMP/badtr.csv"
"$HETFL" carbon import "$TMP/badtr.csv" "$TMP/o.csv" > "$TMP/logc" 2>&1
check "bad trace: exit 2" [ $? = 2 ]
check "bad trace: FILE:LINE" grep -q "badtr.csv:3: region A: timestamps must be hourly" "$TMP/logc"
finish
