#!/usr/bin/env bash
# Energy and carbon end to end: clients in regions of the shipped carbon
# profiles get carbon_g = energy_j x intensity, rounds sum their participants
# exactly, results stay bitwise identical for 1 and 3 ranks with regions
# (determinism contract), RAPL read from a fake powercap tree fills the
# measured columns (NaN and one warning without counters), `hetfl carbon`.
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
# table DSET of FILE as CSV rows, and the 1-based column of a field
rows() { "$H5DUMP" -y -w 0 -m %.17g -d "$2" "$1" | sed -n '/^   DATA {/,$p' | tr -d ' \n' | sed 's/^DATA{//' |
         tr '}' '\n' | sed 's/^,*{//' | grep ,; }
col() { "$H5DUMP" -H -d "$2" "$1" | grep -E '^      (H5T_[A-Z0-9_]+|}) "[a-z_0-9]+";' |
        sed 's/.*"\(.*\)";/\1/' | grep -nx "$3" | cut -d: -f1; }
if [ -n "${H5DUMP:-}" ] && [ "$H5DUMP" != no ]; then
  F=$TMP/r1.h5
  rows "$F" /participation | awk -F, -v r="$(col "$F" /participation round)" \
    -v e="$(col "$F" /participation energy_j)" -v c="$(col "$F" /participation carbon_g)" \
    -v m="$(col "$F" /participation energy_j_measured)" '{ print $r, $e, $c, $m }' > "$TMP/p1"
  rows "$F" /rounds | awk -F, -v r="$(col "$F" /rounds round)" -v e="$(col "$F" /rounds energy_j)" \
    -v c="$(col "$F" /rounds carbon_g)" -v m="$(col "$F" /rounds energy_j_measured)" \
    '{ print $r, $e, $c, $m }' > "$TMP/r"
  check "rounds: energy_j and carbon_g are the sums of their participants" awk '
    NR == FNR { e[$1] += $2; c[$1] += $3; next }
    { if ((e[$1] - $2)^2 > 1e-24 * $2^2 || (c[$1] - $3)^2 > 1e-24 * $3^2) bad = 1; n++ }
    END { exit bad || n == 0 }' "$TMP/p1" "$TMP/r"
  check "carbon_g = energy_j x a profile intensity (BPAT..PJM: 20-900 g/kWh)" awk '
    { ci = $3 / $2 * 3.6e6; if (ci < 20 || ci > 900) bad = 1 } END { exit bad || NR == 0 }' "$TMP/p1"
  check "fake RAPL tree: measured energy read (0 J from static counters, not NaN)" awk '
    { if ($4 != "0") bad = 1 } END { exit bad || NR == 0 }' "$TMP/p1"
  F=$TMP/r3.h5
  rows "$F" /participation | awk -F, -v m="$(col "$F" /participation energy_j_measured)" '{ print $m }' > "$TMP/m3"
  check "absent RAPL: measured energy is NaN" awk '$1 != "nan" { bad = 1 } END { exit bad || NR == 0 }' "$TMP/m3"
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
