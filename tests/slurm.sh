#!/usr/bin/env bash
# The Slurm templates (slurm/) against a real one-node Slurm started here:
# munged (own key and socket), slurmctld and slurmd as root, with all state in
# the test's temp dir and free ports, so it neither needs nor touches a system
# Slurm.  Then `sbatch --wait` on each template with the tiny suite:
#   hetfl.sbatch   srun --mpi=pmix, and the mpirun fallback (HETFL_LAUNCH=mpirun);
#                  2 ranks, results bitwise equal to a direct run (hetfl compare)
#   reproduce      hetfl reproduce inside an allocation: a job array through
#                  sweep.sh, results where a local reproduce puts them, verdicts;
#                  a suite whose data are absent validated first, reported not
#                  run, no array submitted
#   sweep.sh       job array of 2 variants x 2 seeds, one file per task, equal to
#                  the direct run of the same variant and seed
#   scaling.sh     weak + strong series on 1 and 2 ranks, summary.tsv
#   requeue.sbatch scancel --batch --signal=USR1 -> checkpoint, exit 3, requeue,
#                  restart with --resume (a stand-in hetfl that follows the
#                  contract; and the real hetfl when it has --resume)
# The daemons this test started are always stopped (trap).  Skips (77) with the
# reason when the Slurm or munge programs are missing, when not root, or when
# the daemons do not come up.  Installing: apt-get install slurm-wlm munge.
. "$(dirname "$0")/lib.sh"
export PATH=$PATH:/usr/sbin:/sbin
skip() { echo "SKIP: $*"; exit 77; }
for c in slurmctld slurmd munged sbatch sinfo scontrol scancel srun; do
  command -v "$c" > /dev/null || skip "Slurm program '$c' not found (apt-get install slurm-wlm munge)"
done
[ "$(id -u)" = 0 ] || skip "starting slurmctld/slurmd/munged needs root"
need_fmnist
SRC=$HETFL_SRCDIR
TINY=$SRC/tests/data/tiny.conf
T0=$(date +%s)

# ------------------------------------------------------------ daemons ------
S=$TMP/slurm
mkdir -p "$S/state" "$S/spool" "$S/log" "$S/munge"
chmod 711 "$TMP" "$S" "$S/munge"
pids=()
stop_daemons() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null; done
  for p in "${pids[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2> /dev/null || break; sleep 0.2; done
    kill -9 "$p" 2> /dev/null
  done
  pids=()
}
trap 'stop_daemons; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
dump_logs() { for f in "$S"/log/* "$S"/munge/log; do [ -f "$f" ] && { echo "== $f"; tail -n 20 "$f"; }; done; }
pidof_file() { for _ in $(seq 50); do [ -s "$1" ] && { cat "$1"; return; }; sleep 0.1; done; }

head -c 1024 /dev/urandom > "$S/munge/munge.key"
chmod 400 "$S/munge/munge.key"
munged -f --key-file="$S/munge/munge.key" --socket="$S/munge/sock" --pid-file="$S/munge/pid" \
  --log-file="$S/munge/log" --seed-file="$S/munge/seed" 2> "$S/munge/err" ||
  { cat "$S/munge/err"; skip "munged does not start"; }
pids+=("$(pidof_file "$S/munge/pid")")

# two free TCP ports (several test runs may share the machine)
free_port() {
  local p=$1
  while (exec 3<> "/dev/tcp/127.0.0.1/$p") 2> /dev/null || [[ " ${used:-} " == *" $p "* ]]; do p=$((p + 1)); done
  used="${used:-} $p"
  echo "$p"
}
base=$((20000 + ($$ % 20000)))
pctl=$(free_port "$base")
pd=$(free_port $((pctl + 1)))
host=$(hostname -s)
ncpu=$(nproc)
cat > "$S/slurm.conf" << EOF
# one-node test cluster of tests/slurm.sh
ClusterName=hetfltest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$pctl
SlurmdPort=$pd
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$S/munge/sock
CredType=cred/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MailProg=/bin/true
ReturnToService=2
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=$host NodeAddr=127.0.0.1 CPUs=$ncpu State=UNKNOWN
# jobs may share CPUs: the test's jobs are short and mostly wait on start-up
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
export SLURM_CONF=$S/slurm.conf
unset SLURM_JOB_ID SLURM_JOBID
mpi=none   # PMIx when this Slurm has the plugin (srun --mpi=list reads the conf)
if srun --mpi=list 2>&1 | grep -qw pmix; then mpi=pmix; sed -i 's/^MpiDefault=none/MpiDefault=pmix/' "$SLURM_CONF"; fi
slurmctld -f "$SLURM_CONF" -i 2> "$S/log/ctld.err" || { dump_logs; skip "slurmctld does not start"; }
pids+=("$(pidof_file "$S/slurmctld.pid")")
slurmd -f "$SLURM_CONF" 2> "$S/log/d.err" || { dump_logs; skip "slurmd does not start"; }
pids+=("$(pidof_file "$S/slurmd.pid")")
up=no
for _ in $(seq 60); do
  if [ "$(sinfo -h -n "$host" -o %t 2> /dev/null)" = idle ]; then up=yes; break; fi
  sleep 0.5
done
[ $up = yes ] || { sinfo; dump_logs; skip "the one-node Slurm did not become idle in 30 s"; }
echo "one-node Slurm up in $(($(date +%s) - T0)) s: node $host, $ncpu CPUs, ports $pctl/$pd, MpiDefault=$mpi"
sinfo

# ------------------------------------------------------------ jobs ---------
W=$TMP/work
mkdir -p "$W"
cd "$W" || exit 1
export HETFL HETFL_RESULTS=$W/res
R2=(--set federation.rounds=2)
# reference runs: the determinism contract makes any rank count give the same file
"$HETFL" run "$TINY" "${R2[@]}" -o "$W/ref.h5" --quiet > /dev/null 2>&1
check "direct reference run" test $? = 0
printf 'include = %s\n[sweep]\nfederation.lr = 0.05 | 0.1\n' "$TINY" > "$W/sw.conf"
"$HETFL" run "$W/sw.conf" "${R2[@]}" --variant 1 --seed 4 -o "$W/ref-v1-s4.h5" --quiet > /dev/null 2>&1
check "direct reference run of sweep variant 1 seed 4" test $? = 0

# all submissions run concurrently: the node has $ncpu CPUs, Slurm queues the rest
HETFL_EXTRA="${R2[*]}" sbatch --wait -n 2 -J one -o "$W/one_%j.out" -e "$W/one_%j.out" \
  "$SRC/slurm/hetfl.sbatch" "$TINY" > "$W/one.sub" 2>&1 &
j_one=$!
HETFL_LAUNCH=mpirun HETFL_OUTPUT=$W/res/mpirun.h5 HETFL_EXTRA="${R2[*]}" sbatch --wait -n 2 -J mpr \
  -o "$W/mpr_%j.out" -e "$W/mpr_%j.out" "$SRC/slurm/hetfl.sbatch" "$TINY" > "$W/mpr.sub" 2>&1 &
j_mpr=$!
bash "$SRC/slurm/sweep.sh" --seeds "3 4" --wait --sbatch "-n 1 -o $W/sw_%A_%a.out -e $W/sw_%A_%a.out" \
  "$W/sw.conf" "${R2[@]}" > "$W/sweep.id" 2> "$W/sweep.sub" &
j_sw=$!
bash "$SRC/slurm/scaling.sh" --wait --ranks "1 2" --rounds 2 --out "$W/scal" "$TINY" > /dev/null 2> "$W/scal.sub" &
j_sc=$!
# hetfl reproduce inside an allocation (SLURM_JOB_ID): one job array through sweep.sh
printf 'include = %s\n[sweep]\nfederation.clients_per_round = 3 | 6\n[expect]\nb = bytes: v1 >= 1.5 * v0\n' \
  "$TINY" > "$W/rp.conf"
# ... and a suite whose data are not here (its second variant's file is missing):
# validated first, reported not run, no job array submitted for it
printf 'include = %s\n[sweep]\ndata.path = /usr/share/datasets/fashion-mnist | %s/no/such/dir\n' "$TINY" "$W" \
  > "$W/nodata.conf"
printf '[expect]\nb = bytes: v1 >= v0\n' >> "$W/nodata.conf"
SLURM_JOB_ID=1 HETFL_SLURM_DIR=$SRC/slurm HETFL_SBATCH="-n 1 -o $W/rp_%A_%a.out -e $W/rp_%A_%a.out" \
  "$HETFL" reproduce "$W/rp.conf" "$W/nodata.conf" --seeds 2 "${R2[@]}" --out "$W/rp" > "$W/rp.log" 2>&1 &
j_rp=$!

# requeue flow with a stand-in hetfl that follows the checkpoint contract:
# SIGUSR1 -> "checkpoint" and exit 3; `--resume FILE` -> finish.
cat > "$W/fake-hetfl" << 'EOF'
#!/usr/bin/env bash
out="" resume=""
while [ $# -gt 0 ]; do case "$1" in -o) out=$2; shift ;; --resume) resume=$2; shift ;; esac; shift; done
if [ -n "$resume" ]; then echo "resumed $resume" >> "$out.trace"; exit 0; fi
trap 'echo checkpoint >> "$out.trace"; exit 3' USR1
echo started >> "$out.trace"; touch "$out"
sleep 60 & wait $!
echo "no signal came" >> "$out.trace"; exit 1
EOF
chmod +x "$W/fake-hetfl"
rq=$(HETFL=$W/fake-hetfl HETFL_OUTPUT=$W/res/rq.h5 sbatch --parsable -n 1 -J rq -o "$W/rq.out" -e "$W/rq.out" \
  "$SRC/slurm/requeue.sbatch" "$TINY")
check "requeue.sbatch submitted" test -n "$rq"
el() { echo "[$(($(date +%s) - T0)) s] $*"; }
jobstate() { scontrol show job "$1" 2> /dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
# wait (up to $2 x 0.3 s) until job $1 has finished; Slurm holds a requeued job
# back for about 120 s (Reason=BeginTime): let it start as soon as the step
# daemons of its first run are gone (sooner, srun fails to launch step 0 again)
wait_job() {
  local st
  for _ in $(seq "$2"); do
    st=$(jobstate "$1")
    case "$st" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|"") return ;; esac
    if [ "$st" = PENDING ] && scontrol show job "$1" | grep -q "Reason=BeginTime" &&
       ! running_cmdline "^slurmstepd: \[$1\."; then
      sleep 0.5
      scontrol update JobId="$1" StartTime=now
    fi
    sleep 0.3
  done
}
# (the job queues behind the four above on a node of $ncpu CPUs: minutes under a
# sanitizer build on a loaded machine, so every wait below is generous and ends early)
for _ in $(seq 1000); do grep -q started "$W/res/rq.h5.trace" 2> /dev/null && break; sleep 0.3; done
check "requeue job started hetfl" grep -q started "$W/res/rq.h5.trace"
scancel --batch --signal=USR1 "$rq"
wait_job "$rq" 1500
el "stand-in requeue done"
echo "--- requeue job log:"; cat "$W/rq.out"; echo "--- trace:"; cat "$W/res/rq.h5.trace"
check "requeue job completed after the restart (state $(jobstate "$rq"))" test "$(jobstate "$rq")" = COMPLETED
check "requeue: hetfl got SIGUSR1 and checkpointed" grep -qx checkpoint "$W/res/rq.h5.trace"
check "requeue: the job requeued itself on exit 3" grep -q "requeueing job $rq" "$W/rq.out"
check "requeue: restarted with --resume FILE" grep -qx "resumed $W/res/rq.h5" "$W/res/rq.h5.trace"
check "requeue: Restarts=1" bash -c 'scontrol show job "$0" | grep -q "Restarts=1"' "$rq"

# the real hetfl, when it implements checkpoint/resume
if "$HETFL" --help 2>&1 | grep -q -- "--resume"; then
  RQ=(--set federation.rounds=100 --set federation.eval_every=25)
  "$HETFL" run "$TINY" "${RQ[@]}" -o "$W/ref-rq.h5" --quiet > /dev/null 2>&1 &
  j_ref=$!
  rq2=$(HETFL_OUTPUT=$W/res/rq2.h5 HETFL_EXTRA="${RQ[*]}" sbatch --parsable -n 2 -J rq2 -o "$W/rq2.out" \
    -e "$W/rq2.out" "$SRC/slurm/requeue.sbatch" "$TINY")
  # the file appears after round 1, when hetfl's signal handlers are installed
  # (a signal before that would just kill it); the job may queue behind others
  for _ in $(seq 3000); do [ -f "$W/res/rq2.h5" ] && break; sleep 0.1; done
  scancel --batch --signal=USR1 "$rq2"
  wait_job "$rq2" 2000
  el "real requeue done"
  wait $j_ref
  echo "--- real requeue job log:"; cat "$W/rq2.out"
  check "real hetfl: stopped with exit 3 and requeued" grep -q "requeueing job $rq2" "$W/rq2.out"
  check "real hetfl: restart used --resume" grep -q -- "--resume $W/res/rq2.h5" "$W/rq2.out"
  check "real hetfl: job completed (state $(jobstate "$rq2"))" test "$(jobstate "$rq2")" = COMPLETED
  check "real hetfl: resumed file = uninterrupted run" "$HETFL" compare "$W/ref-rq.h5" "$W/res/rq2.h5"
else
  echo "NOTE: this hetfl has no --resume yet: requeue tested with the stand-in only"
fi

wait $j_one; rc_one=$?; el "hetfl.sbatch done"
id_one=$(sed -n 's/^Submitted batch job \([0-9]*\).*/\1/p' "$W/one.sub")
echo "--- hetfl.sbatch (srun) log:"; cat "$W"/one_*.out
check "hetfl.sbatch: sbatch --wait exit 0" test $rc_one = 0
check "hetfl.sbatch: log prints hosts and the command" grep -q "command: srun --mpi=pmix" "$W"/one_*.out
check "hetfl.sbatch: job log shows one progress line per round (no --quiet)" \
  bash -c '[ "$(grep -c "^round " "$@")" -ge 2 ] && ! grep -q -- " --quiet" "$@"' _ "$W"/one_*.out
check "hetfl.sbatch: progress lines carry no bar" bash -c '! grep "^round " "$@" | grep -q "\[#"' _ "$W"/one_*.out
check "hetfl.sbatch: results file names the job id" test -f "$W/res/tiny-$id_one.h5"
check "hetfl.sbatch: ran on 2 ranks" bash -c 'h5dump -a /ranks "$0" | grep -q "(0): 2"' "$W/res/tiny-$id_one.h5"
check "hetfl.sbatch: results = direct run (hetfl compare)" "$HETFL" compare "$W/ref.h5" "$W/res/tiny-$id_one.h5"

wait $j_mpr; rc_mpr=$?; el "mpirun done"
echo "--- hetfl.sbatch (mpirun) log:"; cat "$W"/mpr_*.out
check "hetfl.sbatch mpirun fallback: exit 0" test $rc_mpr = 0
check "hetfl.sbatch mpirun fallback: launched with mpirun" grep -q "command: mpirun -n 2" "$W"/mpr_*.out
check "hetfl.sbatch mpirun fallback: ran on 2 ranks" bash -c 'h5dump -a /ranks "$0" | grep -q "(0): 2"' "$W/res/mpirun.h5"
check "hetfl.sbatch mpirun fallback: results = direct run" "$HETFL" compare "$W/ref.h5" "$W/res/mpirun.h5"

wait $j_sw; rc_sw=$?; el "sweep done"
cat "$W/sweep.sub"
aid=$(tail -n 1 "$W/sweep.id")
check "sweep.sh: --array from 2 variants x 2 seeds" grep -q -- "--array=0-3" "$W/sweep.sub"
check "sweep.sh --wait: all tasks exit 0" test $rc_sw = 0
for f in v0-s3 v0-s4 v1-s3 v1-s4; do
  check "sweep: results file sw-$aid/$f.h5" test -f "$W/res/sw-$aid/$f.h5"
done
check "sweep: task v1-s4 = direct run of variant 1 seed 4" "$HETFL" compare "$W/ref-v1-s4.h5" "$W/res/sw-$aid/v1-s4.h5"
"$HETFL" report "$W/res/sw-$aid"/*.h5 > "$W/sweep.report"
cat "$W/sweep.report"
check "sweep: hetfl report groups the 4 files into 2 variants x 2 seeds" grep -q "4 runs in 2 columns" "$W/sweep.report"

wait $j_sc; rc_sc=$?; el "scaling done"
cat "$W/scal.sub"
check "scaling.sh --wait: exit 0" test $rc_sc = 0
check "scaling: summary.tsv has header + 4 points" test "$(wc -l < "$W/scal/summary.tsv" 2> /dev/null)" = 5
check "scaling: weak n=2 runs 2x the clients (40, 14 per round)" \
  awk -F'\t' '$1 == "weak" && $2 == 2 && $3 == 40 && $4 == 14 { ok = 1 } END { exit !ok }' "$W/scal/summary.tsv"
check "scaling: strong n=2 keeps the clients (20, 7 per round)" \
  awk -F'\t' '$1 == "strong" && $2 == 2 && $3 == 20 && $4 == 7 { ok = 1 } END { exit !ok }' "$W/scal/summary.tsv"
check "scaling: efficiency 1 at the base point, positive elsewhere" \
  awk -F'\t' 'NR > 1 { if ($2 == 1 && $8 != 1) bad = 1; if (!($8 > 0) || !($6 > 0)) bad = 1 } END { exit bad }' "$W/scal/summary.tsv"

wait $j_rp; rc_rp=$?; el "reproduce done"
cat "$W/rp.log"
check "reproduce in Slurm: exit 0" test $rc_rp = 0
check "reproduce in Slurm: one job array through sweep.sh" grep -q "submitted through .*sweep.sh" "$W/rp.log"
for f in v0-s1 v0-s2 v1-s1 v1-s2; do check "reproduce in Slurm: results file rp/$f.h5" test -f "$W/rp/rp/$f.h5"; done
check "reproduce in Slurm: the claim PASSes" grep -q "^PASS *rp b: bytes" "$W/rp.log"
check "reproduce in Slurm: the suite without its data validated, NOT RUN with the message, not submitted" \
  grep -q "^reproduce: nodata: NOT RUN (hetfl validate of variant 1 exited 2, bad input: hetfl: .*no/such/dir.*); its job array not submitted$" "$W/rp.log"
check "... one job array in all" test "$(grep -c 'submitted through' "$W/rp.log")" = 1
check "... no run of it, its validation log kept" test "$(ls "$W/rp/nodata")" = validate.log
check "... the report lists it as not run, its claim not checked" \
  sh -c 'grep -q "^- not run (.*): \`nodata\`$" "$1" && grep -q "^1 claim not checked (not run)\.$" "$1"' _ "$W/rp/reproduce.md"
"$HETFL" run "$W/rp.conf" "${R2[@]}" --variant 1 --seed 2 -o "$W/ref-rp.h5" --quiet > /dev/null 2>&1
check "reproduce in Slurm: task v1 seed 2 = direct run" "$HETFL" compare "$W/ref-rp.h5" "$W/rp/rp/v1-s2.h5"

# srun --kill-on-bad-exit: when one rank exits 3 and srun kills a rank still
# finishing, srun reports 143; hetfl.sbatch must take the stop from the results
# file (status stopped, exit code 3).  A stand-in whose `run` leaves a stopped
# results file and then dies of SIGTERM; `report` is the real hetfl.
"$HETFL" run "$TINY" --set federation.rounds=100000 -o "$W/stopped.h5" --quiet > /dev/null 2>&1 &
j_st=$!
for _ in $(seq 3000); do [ -f "$W/stopped.h5" ] && break; sleep 0.1; done
kill -USR1 $j_st; wait $j_st
check "a real run stopped by SIGUSR1 exits 3" test $? = 3
cat > "$W/killed-hetfl" << EOF
#!/usr/bin/env bash
if [ "\$1" = run ]; then
  while [ \$# -gt 0 ]; do case "\$1" in -o) cp "$W/stopped.h5" "\$2"; shift ;; esac; shift; done
  kill -TERM \$\$
fi
exec "$HETFL" "\$@"
EOF
chmod +x "$W/killed-hetfl"
HETFL=$W/killed-hetfl HETFL_OUTPUT=$W/res/killed.h5 sbatch --wait -n 1 -J kil -o "$W/kil.out" -e "$W/kil.out" \
  "$SRC/slurm/hetfl.sbatch" "$TINY" > /dev/null 2>&1
rc_kil=$?
echo "--- hetfl.sbatch, rank killed after a stop:"; cat "$W/kil.out"
check "hetfl.sbatch: a launcher status > 128 with a stopped results file is exit 3 (sbatch status $rc_kil)" \
  grep -q "exit status 3; results $W/res/killed.h5" "$W/kil.out"

# the guard: a template started outside Slurm says so and exits 2
(unset SLURM_JOB_ID; bash "$SRC/slurm/hetfl.sbatch" "$TINY") > /dev/null 2> "$W/guard.err"
check "hetfl.sbatch outside Slurm: exit 2" test $? = 2
check "hetfl.sbatch outside Slurm: says so" grep -q "not running under Slurm" "$W/guard.err"
echo "slurm test: $(($(date +%s) - T0)) s"
finish
