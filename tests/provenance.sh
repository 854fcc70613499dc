#!/usr/bin/env bash
# Provenance in every results file (docs/results.md "Provenance"): build
# (commit, dirty flag, compiler, flags), library versions, a SHA-256 of every
# input file read (checked against sha256sum), start/end time, and the status
# (completed / stopped / failed with the exit code; "running" in a killed file);
# numbers in /system stored as numbers; units and descriptions on every table.
. "$(dirname "$0")/lib.sh"
need_fmnist
H5DUMP=${H5DUMP:-h5dump}
tiny=$HETFL_SRCDIR/tests/data/tiny.conf
# attr FILE NAME: a scalar attribute's value (quotes removed); attrs FILE NAME: one per line
attr() { "$H5DUMP" -a "$2" "$1" 2>/dev/null | sed -n 's/^ *(0): "\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' | head -1; }
attrs() { "$H5DUMP" -a "$2" "$1" 2>/dev/null | sed -n '/DATA {/,$p' | grep -o '"[^"]*"' | tr -d '"'; }
atype() { "$H5DUMP" -a "$2" "$1" 2>/dev/null | sed -n 's/^ *DATATYPE *\([A-Z0-9_]*\).*/\1/p' | head -1; }

# --- a completed run, with a carbon trace and an availability trace as inputs ---
cp "$HETFL_SRCDIR/tests/data/avail-dropout.csv" "$TMP/avail.csv"
"$HETFL" run "$tiny" --quiet -o "$TMP/ok.h5" --set federation.rounds=2 \
  --set energy.carbon_file="$HETFL_SRCDIR/traces/carbon/CISO.csv" > "$TMP/ok.log" 2>&1
check "run completes" test $? = 0
check "status = completed" test "$(attr "$TMP/ok.h5" /status)" = completed
check "exit_code = 0" test "$(attr "$TMP/ok.h5" /exit_code)" = 0
check "exit_code is an integer" test "$(atype "$TMP/ok.h5" /exit_code)" = H5T_STD_I64LE
for a in start_time end_time created; do
  check "$a is ISO 8601 UTC" grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' \
    <<<"$(attr "$TMP/ok.h5" /$a)"
done
commit=$(attr "$TMP/ok.h5" /git_commit)
if git -C "$HETFL_SRCDIR" rev-parse HEAD > /dev/null 2>&1; then
  # the binary records the commit it was built from (make rebuilds buildinfo.h): a
  # commit of this checkout (HEAD when nothing was committed since the build)
  check "git_commit is a commit of the checkout ($commit)" \
    bash -c '[ ${#0} = 40 ] && git -C "$1" cat-file -e "$0^{commit}"' "$commit" "$HETFL_SRCDIR"
  check "git_dirty is yes or no" grep -Eqx 'yes|no' <<<"$(attr "$TMP/ok.h5" /git_dirty)"
else
  check "git_commit unknown outside a checkout" test "$commit" = unknown
fi
check "hetfl version prints the same commit" bash -c '"$0" version | grep -qx "git_commit: $1"' "$HETFL" "$commit"
check "compiler recorded" grep -q . <<<"$(attr "$TMP/ok.h5" /compiler)"
check "cflags recorded (-std=c11)" grep -q -- -std=c11 <<<"$(attr "$TMP/ok.h5" /cflags)"
h5v=$("$H5DUMP" -V | sed -n 's/.*Version \([0-9.]*\).*/\1/p')
check "hdf5_version = h5dump's ($h5v)" test "$(attr "$TMP/ok.h5" /hdf5_version)" = "$h5v"
check "mpi_version recorded" grep -q "^MPI [0-9]" <<<"$(attr "$TMP/ok.h5" /mpi_version)"
check "openblas_version recorded" grep -q "OpenBLAS" <<<"$(attr "$TMP/ok.h5" /openblas_version)"
check "hwloc_version recorded" grep -q "API [0-9]" <<<"$(attr "$TMP/ok.h5" /hwloc_version)"
mapfile -t files < <(attrs "$TMP/ok.h5" /input_files)
mapfile -t sums < <(attrs "$TMP/ok.h5" /input_sha256)
echo "# inputs: ${files[*]}"
check "inputs: the 4 Fashion-MNIST files and the carbon trace (${#files[@]})" test "${#files[@]}" = 5
check "as many checksums as files" test "${#sums[@]}" = "${#files[@]}"
check "the carbon trace is an input" grep -q "traces/carbon/CISO.csv$" <<<"$(printf '%s\n' "${files[@]}")"
for i in "${!files[@]}"; do
  want=$(sha256sum "${files[$i]}" | cut -d' ' -f1)
  check "sha256 of $(basename "${files[$i]}") = sha256sum's" test "${sums[$i]}" = "$want"
done
check "/system/model_params is an integer" test "$(atype "$TMP/ok.h5" /system/model_params)" = H5T_STD_I64LE
check "/system/model_params = 25450 (784*32+32 + 32*10+10)" test "$(attr "$TMP/ok.h5" /system/model_params)" = 25450

# units and descriptions: one per column, in column order, on every table (the
# strategies' tables from a 2-round FedDF run); outcome names as strings
"$HETFL" run "$tiny" --quiet -o "$TMP/df.h5" --set federation.rounds=2 --set federation.strategy=feddf \
  --set feddf.groups=a1-c1 --set feddf.steps=10 --set feddf.val_every=5 > "$TMP/df.log" 2>&1
check "FedDF run completes" test $? = 0
for ft in ok:/rounds ok:/participation ok:/clients ok:/system/placement df:/rounds_by_width df:/feddf; do
  f=$TMP/${ft%%:*}.h5 t=${ft#*:}
  names=$(attrs "$f" "$t/column_names" | tr '\n' ' ')
  fields=$("$H5DUMP" -H -d "$t" "$f" | sed -n 's/.*"\([a-z_0-9]*\)";$/\1/p' | tr '\n' ' ')
  check "$t: column_names = the columns ($(wc -w <<<"$names"))" test -n "$fields" -a "$names" = "$fields"
  check "$t: one unit per column" test "$(attrs "$f" "$t/column_units" | wc -l)" = "$(wc -w <<<"$names")"
  check "$t: one description per column" \
    test "$(attrs "$f" "$t/column_descriptions" | wc -l)" = "$(wc -w <<<"$names")"
  check "$t: a description of the table" grep -q "docs/results.md" <<<"$(attr "$f" "$t/description")"
done
# units FILE TABLE: NAME:UNIT per column; has_units FILE TABLE NAME:UNIT...: all of them present
units() { paste -d: <(attrs "$1" "$2/column_names") <(attrs "$1" "$2/column_units"); }
has_units() { local u; u=$(units "$1" "$2"); shift 2; for p; do grep -qx -- "$p" <<<"$u" || return 1; done; }
check "/rounds: sim_time_s in s, energy_j in J, carbon_g in gCO2e" \
  has_units "$TMP/ok.h5" /rounds sim_time_s:s energy_j:J carbon_g:gCO2e round:
check "/system/placement: cores and cores_bound in cores, oversubscribed a flag (1), host a label" \
  has_units "$TMP/ok.h5" /system/placement cores:cores cores_bound:cores oversubscribed:1 host:
check "/rounds_by_width: width and test_accuracy dimensionless (1), test_loss in nats" \
  has_units "$TMP/df.h5" /rounds_by_width width:1 test_accuracy:1 test_loss:nats round:
check "/feddf: server_compute_s in s, server_mem_bytes in bytes, steps, clients, accuracies (1)" \
  has_units "$TMP/df.h5" /feddf server_compute_s:s server_mem_bytes:bytes distill_steps:steps best_step:steps \
  clients:clients val_accuracy_init:1 val_accuracy_best:1
check "/feddf: server_compute_s described as measured" \
  grep -q "^measured: server wall time" <<<"$(attrs "$TMP/df.h5" /feddf/column_descriptions | sed -n 8p)"
check "/outcome_names: 8 names, completed first" \
  test "$(attrs "$TMP/ok.h5" /participation/outcome_names | head -1)/$(attrs "$TMP/ok.h5" /participation/outcome_names | wc -l)" = completed/8
check "/outcome_names dataset: completed first" bash -c '"$0" -d /outcome_names "$1" | grep -q "(0): \"completed\""' \
  "$H5DUMP" "$TMP/ok.h5"

# availability trace as an input
"$HETFL" run "$tiny" --quiet -o "$TMP/av.h5" --set federation.rounds=1 --set federation.clients=3 \
  --set federation.clients_per_round=2 --set availability.model=trace \
  --set availability.file="$TMP/avail.csv" > "$TMP/av.log" 2>&1
check "run with an availability trace" test $? = 0
n=$(attrs "$TMP/av.h5" /input_files | grep -n "avail.csv$" | cut -d: -f1)
check "availability trace listed" test -n "$n"
[ -n "$n" ] && check "its sha256 = sha256sum's" test "$(attrs "$TMP/av.h5" /input_sha256 | sed -n "${n}p")" = \
  "$(sha256sum "$TMP/avail.csv" | cut -d' ' -f1)"

# --- SIGTERM: status stopped, exit_code 3, the message kept ---
"$HETFL" run "$tiny" -o "$TMP/term.h5" --set federation.rounds=100000 > "$TMP/term.log" 2> "$TMP/term.err" & pid=$!
for i in $(seq 400); do grep -Eq "^round +3/" "$TMP/term.log" && break; sleep 0.05; done
kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM: exit 3 (got $rc)" test $rc = 3
check "SIGTERM: status = stopped" test "$(attr "$TMP/term.h5" /status)" = stopped
check "SIGTERM: exit_code = 3" test "$(attr "$TMP/term.h5" /exit_code)" = 3
check "SIGTERM: status_detail names the signal" bash -c '"$0" -a /status_detail "$1" | grep -q "stopped by SIGTERM"' \
  "$H5DUMP" "$TMP/term.h5"
cp "$TMP/term.h5" "$TMP/term-copy.h5"
# an existing file is never touched by a run that refuses to replace it
"$HETFL" run "$tiny" --quiet -o "$TMP/term.h5" > /dev/null 2>&1
check "refused overwrite: exit 2" test $? = 2
check "refused overwrite: status still stopped" test "$(attr "$TMP/term.h5" /status)" = stopped
check "refused overwrite: file unchanged" cmp -s "$TMP/term.h5" "$TMP/term-copy.h5"
# resumed, stopped again
"$HETFL" run "$tiny" --set federation.rounds=100000 --resume "$TMP/term.h5" > "$TMP/res.log" 2>&1 & pid=$!
for i in $(seq 400); do grep -Eq "^round " "$TMP/res.log" && break; sleep 0.05; done
kill -TERM $pid; wait $pid
check "resumed and stopped again: status stopped" test "$(attr "$TMP/term.h5" /status)" = stopped
check "resume keeps the first start_time" test "$(attr "$TMP/term.h5" /start_time)" = "$(attr "$TMP/term-copy.h5" /start_time)"
check "resume records resumed_time" grep -q T <<<"$(attr "$TMP/term.h5" /resumed_time)"

# --- SIGKILL: the file says running (readable at every instant) ---
"$HETFL" run "$tiny" -o "$TMP/kill.h5" --set federation.rounds=100000 > "$TMP/kill.log" 2>&1 & pid=$!
for i in $(seq 400); do grep -Eq "^round +3/" "$TMP/kill.log" && break; sleep 0.05; done
kill -KILL $pid; wait $pid 2>/dev/null
check "SIGKILL: readable" "$H5DUMP" -H "$TMP/kill.h5" > /dev/null
check "SIGKILL: status = running" test "$(attr "$TMP/kill.h5" /status)" = running
check "SIGKILL: exit_code = -1" test "$(attr "$TMP/kill.h5" /exit_code)" = -1

# --- 2 ranks: the same attributes ---
if run_mpi 2 run "$tiny" --quiet -o "$TMP/two.h5" --set federation.rounds=2 > "$TMP/two.log" 2>&1; then
  check "2 ranks: status completed" test "$(attr "$TMP/two.h5" /status)" = completed
  check "2 ranks: same input checksums" test "$(attrs "$TMP/two.h5" /input_sha256 | head -4)" = \
    "$(attrs "$TMP/ok.h5" /input_sha256 | head -4)"
else
  bad "2 ranks run"; cat "$TMP/two.log"
fi
finish
