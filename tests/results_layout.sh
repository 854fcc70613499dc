#!/usr/bin/env bash
# Results file layout (DESIGN.md): required paths, attributes and columns; one
# /rounds row per round; never overwrite without --force; no file on bad input.
. "$(dirname "$0")/lib.sh"
need_fmnist
S=$HETFL_SRCDIR/tests/data/tiny.conf
F=$TMP/r.h5
run_mpi 2 run "$S" -o "$F" > "$TMP/log" 2>&1
check "tiny run succeeds" test $? = 0
check "log starts with the configuration box" grep -q "^| suite" "$TMP/log"
check "log has one progress line per round" test "$(grep -c '^round ' "$TMP/log")" = 3
check "log says where the results are" grep -q "^results: $F" "$TMP/log"
H5DUMP=${H5DUMP:-h5dump}
hdr=$("$H5DUMP" -H "$F")
for p in '/config' '/rounds' '/clients' '/participation' '/system' '/model'; do
  check "path $p exists" grep -q "\"${p#/}\"" <<<"$hdr"
done
for a in hetfl_version suite variant seed ranks aggregation created command_line; do
  check "root attribute $a" grep -q "ATTRIBUTE \"$a\"" <<<"$hdr"
done
for c in round sim_time_s wall_time_s available selected completed dropped late train_loss test_loss \
         test_accuracy bytes_up bytes_down energy_j carbon_g; do
  check "/rounds column $c" bash -c '"$0" -H -d /rounds "$1" | grep -q "\"$2\";"' "$H5DUMP" "$F" "$c"
done
for c in round client outcome compute_s_model compute_s_measured comm_s energy_j local_loss width bytes_up; do
  check "/participation column $c" bash -c '"$0" -H -d /participation "$1" | grep -q "\"$2\";"' "$H5DUMP" "$F" "$c"
done
for c in id device_class samples region energy_budget_j; do
  check "/clients column $c" bash -c '"$0" -H -d /clients "$1" | grep -q "\"$2\";"' "$H5DUMP" "$F" "$c"
done
for a in hostnames mpi_library_version openblas_config placement; do
  check "/system attribute $a" grep -q "ATTRIBUTE \"$a\"" <<<"$("$H5DUMP" -A -g /system "$F")"
done
check "/rounds has 3 rows" bash -c '"$0" -H -d /rounds "$1" | grep -q "DATASPACE  SIMPLE { ( 3 ) / ( H5S_UNLIMITED ) }"' "$H5DUMP" "$F"
check "/participation has 3x7 rows" bash -c '"$0" -H -d /participation "$1" | grep -q "( 21 ) / ( H5S_UNLIMITED )"' "$H5DUMP" "$F"
check "/clients has 20 rows" bash -c '"$0" -H -d /clients "$1" | grep -q "DATASPACE  SIMPLE { ( 20 ) / ( 20 ) }"' "$H5DUMP" "$F"
check "/model/final has 4 tensors" test "$("$H5DUMP" -H -g /model/final "$F" | grep -c DATASET)" = 4
# values, not only names: /rounds from /participation and /clients, and every
# /participation row from the inputs (class 'default' of the devices.* keys: 10 GFLOP/s,
# up 10 / down 50 Mbit/s, latency 0.05 s, 5 W, 0.1 J/MB; 475 g/kWh; the 784-32-10 MLP:
# P = 25450 parameters, 6 x 25408 training FLOP a sample; E = 1, B = 16; compute times
# carry the default jitter exp(0.1 z), |z| < 5)
check "/rounds columns recomputed from /participation and /clients" tables_consistent "$F" 2
part_ok() {
  cols -x "$F" /clients id samples > "$TMP/cl"
  cols -x "$F" /participation round client outcome steps compute_s_model comm_s energy_j width bytes_up carbon_g \
    > "$TMP/pa"
  awk 'function near(a, b) { d = a - b; if (d < 0) d = -d; return d <= 1e-12 + 1e-9 * b }
    function no(w) { bad = 1; print "  round " $1 " client " $2 ": " w }
    FNR == NR { n[$1] = $2; next }
    { P = 25450; seen[$1 " " $2]++; rows++
      if ($2 < 0 || $2 >= 20 || seen[$1 " " $2] > 1) no("client id")
      if ($3 != "completed") no("outcome " $3)
      if ($4 != int((n[$2] + 15) / 16)) no("steps " $4)
      j = $5 / (6 * 25408 * n[$2] / 10e9); if (j < exp(-0.5) || j > exp(0.5)) no("compute_s_model " $5)
      if (!near($6, 0.1 + 4 * P * 8 / 50e6 + 4 * P * 8 / 10e6)) no("comm_s " $6)
      if (!near($7, 5 * $5 + 0.1 * 8 * P / 1e6)) no("energy_j " $7)
      if ($8 != 1 || $9 != 4 * P) no("width " $8 ", bytes_up " $9)
      if (!near($10, $7 * 475 / 3.6e6)) no("carbon_g " $10) }
    END { exit bad || rows != 21 }' "$TMP/cl" "$TMP/pa"
}
check "/participation columns recomputed from the suite and the device class" part_ok
check "/clients: ids 0..19, samples sum to the 3000 training samples" \
  awk '{ if ($1 != NR - 1) bad = 1; s += $2 } END { exit bad || s != 3000 || NR != 20 }' \
  <(cols "$F" /clients id samples)
check "/config holds the resolved suite" bash -c '"$0" -d /config "$1" | grep -q "clients_per_round = 7"' "$H5DUMP" "$F"
check "test_accuracy is NaN on rounds not evaluated" bash -c '"$0" -d /rounds -M "test_accuracy" "$1" 2>/dev/null | grep -qi nan || "$0" -d /rounds "$1" | grep -qi nan' "$H5DUMP" "$F"
# overwrite protection: exit 2, file untouched
sum=$(md5sum < "$F")
run_mpi 2 run "$S" -o "$F" > "$TMP/log2" 2>&1; rc=$?
check "existing results file: exit 2" test $rc = 2
check "existing results file: message names --force" grep -q -- "--force" "$TMP/log2"
check "existing results file: untouched" test "$(md5sum < "$F")" = "$sum"
run_mpi 2 run "$S" -o "$F" --force --quiet > "$TMP/log3" 2>&1
check "--force replaces it" test $? = 0
check "--quiet prints no progress lines" test "$(grep -c '^round ' "$TMP/log3")" = 0
check "no temporary files left" test -z "$(ls "$TMP" | grep tmp- || true)"
finish
