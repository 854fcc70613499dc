#!/usr/bin/env bash
# refactor_oracle.sh — the refactoring oracle: a change that claims to keep
# every result bit runs the catalogue with the old and the new build and
# compares every file with `hetfl compare`.
#
#   tests/refactor_oracle.sh run HETFL OUTDIR [--rounds N] [--only PATTERN]
#       run every variant of every suite in suites/ (rounds cut to N, default 3,
#       2 ranks) plus the extra cases below (other strategies, server optimizers,
#       codecs, policies, 1/3 ranks, allreduce, checkpoints) with binary HETFL;
#       one results file per case in OUTDIR, and OUTDIR/cases.txt listing them
#   tests/refactor_oracle.sh compare OLD_DIR NEW_DIR [HETFL] [--ignore-key K]...
#       `hetfl compare` every case of OLD_DIR with NEW_DIR's (plus the tables
#       compare does not read, wall-clock columns left out); prints one line a
#       case and "N passed, M failed"; exit 1 when any differs or is missing.
#       --ignore-key: a key the new build added (its default leaves results
#       unchanged) is left out of the /config comparison
#
# Typical use (a refactor on a branch, the old build in a second worktree):
#   git worktree add /tmp/old main && (cd /tmp/old && ./bootstrap build)
#   tests/refactor_oracle.sh run /tmp/old/hetfl /tmp/o-old
#   tests/refactor_oracle.sh run ./hetfl /tmp/o-new
#   tests/refactor_oracle.sh compare /tmp/o-old /tmp/o-new
# Result files stay outside the repository; nothing machine-specific is kept.
# The whole catalogue at 3 rounds takes a few minutes on 2 cores.
set -u
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
MPIEXEC=${MPIEXEC:-mpiexec}

usage() { sed -n '2,21p' "$0" >&2; exit 2; }

# Extra cases beyond the suites: NAME RANKS SUITE [--set K=V]...
extra_cases() {
  local q=suites/quickstart.conf t=tests/data/tiny.conf f=suites/fedprox-synthetic.conf
  cat <<EOF
q-1rank 1 $q
q-3rank 3 $q
q-allreduce-3 3 $q --set aggregation.topology=allreduce
q-float 2 $q --set aggregation.exact=no --set aggregation.topology=allreduce
q-ckpt 2 $q --set run.checkpoint_every=2 --set federation.rounds=5
t-scaffold 2 $t --set federation.strategy=scaffold --set federation.momentum=0
t-scaffold-3 3 $t --set federation.strategy=scaffold --set federation.momentum=0 --set aggregation.topology=allreduce
t-fednova 2 $t --set federation.strategy=fednova --set federation.stragglers=0.5
t-fedprox 2 $t --set federation.strategy=fedprox --set fedprox.mu=0.1 --set federation.stragglers=0.3
t-avgm 2 $t --set server.optimizer=avgm --set server.lr=1
t-adam 2 $t --set server.optimizer=adam --set server.lr=0.01
t-adagrad 2 $t --set server.optimizer=adagrad --set server.lr=0.01
t-yogi 3 $t --set server.optimizer=yogi --set server.lr=0.01
t-scaffold-adam 2 $t --set federation.strategy=scaffold --set federation.momentum=0 --set server.optimizer=adam --set server.lr=0.01
t-qsgd 2 $t --set energy.compress=qsgd
t-topk 2 $t --set energy.compress=topk
t-fp16 2 $t --set energy.compress=fp16
t-cnn 2 $t --set model.arch=cnn --set model.hidden=8,16,32 --set federation.clients_per_round=3
t-logreg 1 $t --set model.arch=logreg
t-dirichlet 2 $t --set data.partition=dirichlet --set data.alpha=0.3
t-shards 3 $t --set data.partition=shards
t-heterofl-dyn 2 suites/heterofl.conf --variant 2 --set heterofl.mode=dynamic --set heterofl.scaler=yes
t-heterofl-adam 2 suites/heterofl.conf --variant 1 --set server.optimizer=adam --set server.lr=0.01
t-dkt-3 3 suites/decentralized-kd.conf --variant 0
t-dpsgd-1 1 suites/topology.conf --variant 1
f-poc 1 suites/availability-bias.conf --set selection.policy=poc
f-f3ast 1 suites/availability-bias.conf --set selection.policy=f3ast
f-forecast 2 suites/availability-bias.conf --set selection.policy=forecast
f-cyclic 2 suites/availability-bias.conf --set selection.policy=cyclic --set selection.groups=3
f-transfer 2 suites/availability-bias.conf --set availability.transfer=yes
f-async-3 3 suites/async.conf --variant 1
f-fednova-ckpt 2 $f --variant 7 --set federation.strategy=fednova --set run.checkpoint_every=2 --set federation.rounds=4
e-idle 2 suites/energy-budget.conf --variant 0 --set energy.count_idle=yes
p-fedem 2 suites/personalization.conf --variant 4 --set federation.strategy=fedem
p-knnper 3 suites/personalization.conf --variant 0 --set federation.strategy=knnper
EOF
}

suite_cases() {
  local rounds=$1 s name nv v
  for s in suites/*.conf; do
    name=$(basename "$s" .conf)
    nv=$("$HETFL" expand "$s" 2>/dev/null | wc -l)
    [ "$nv" -ge 1 ] || nv=1
    for ((v = 0; v < nv; v++)); do
      if [ "$nv" -gt 1 ]; then echo "$name-v$v 2 $s --variant $v"; else echo "$name 2 $s"; fi
    done
  done
}

cmd_run() {
  HETFL=$(readlink -f "$1"); OUT=$2; shift 2
  local rounds=3 only=
  while [ $# -gt 0 ]; do
    case $1 in --rounds) rounds=$2; shift 2 ;; --only) only=$2; shift 2 ;; *) usage ;; esac
  done
  [ -x "$HETFL" ] || { echo "refactor_oracle: $HETFL is not an executable" >&2; exit 2; }
  mkdir -p "$OUT"
  : > "$OUT/cases.txt"
  local n=0 failed=0 name ranks suite rest start=$SECONDS
  while read -r name ranks suite rest; do
    [ -n "$only" ] && [[ $name != $only ]] && continue
    # rounds cut down unless the case sets them itself
    local rset=(--set "federation.rounds=$rounds")
    [[ $rest == *federation.rounds=* ]] && rset=()
    # shellcheck disable=SC2086
    if "$MPIEXEC" -n "$ranks" "$HETFL" run "$suite" $rest "${rset[@]}" --quiet --force \
         -o "$OUT/$name.h5" < /dev/null > "$OUT/$name.log" 2>&1; then
      echo "$name" >> "$OUT/cases.txt"
    else
      echo "refactor_oracle: case $name failed (exit $?), see $OUT/$name.log" >&2
      echo "$name FAILED" >> "$OUT/cases.txt"
      failed=$((failed + 1))
    fi
    n=$((n + 1))
  done < <(suite_cases "$rounds"; extra_cases)
  echo "refactor_oracle: $n cases with $HETFL in $((SECONDS - start)) s ($failed failed to run) -> $OUT"
}

# A table's values at full precision, one per line, with the fields named in
# $3 (a regex of member names, e.g. wall-clock columns) left out.
table_values() {
  h5dump -m '%.17g' -d "/$2" "$1" 2>/dev/null | awk -v skip="${3:-^$}" '
    /ATTRIBUTE/ { exit }  # the descriptive attributes that follow the data
    /H5T_COMPOUND/ { intype = 1; next }
    intype && /^ *}$/ { intype = 0; next }
    intype && /"[^"]*"; *$/ { n++; gsub(/[";]/, "", $NF); drop[n] = ($NF ~ skip); next }
    intype { next }
    /^ *\([0-9]+\): *\{/ { f = 0; next }
    /^ *}/ { next }
    n && /^ +[^ ]/ && !/DATA|DATASPACE|DATASET|HDF5/ { f++; if (!drop[f]) print f": "$0 }'
}

cmd_compare() {
  local A=$1 B=$2 H=./hetfl pass=0 fail=0 name status ign=()
  shift 2
  [ $# -gt 0 ] && [ "${1#--}" = "$1" ] && { H=$1; shift; }
  while [ $# -gt 0 ]; do
    case $1 in --ignore-key) ign+=(--ignore-key "$2"); shift 2 ;; *) usage ;; esac
  done
  [ -f "$A/cases.txt" ] || { echo "refactor_oracle: $A/cases.txt missing" >&2; exit 2; }
  while read -r name status; do
    if [ -n "${status:-}" ]; then
      if grep -qx "$name FAILED" "$B/cases.txt" 2>/dev/null; then
        echo "same  $name (failed to run in both)"; pass=$((pass + 1))
      else echo "DIFF  $name: failed to run in $A only"; fail=$((fail + 1)); fi
      continue
    fi
    if [ ! -f "$B/$name.h5" ]; then echo "DIFF  $name: missing in $B"; fail=$((fail + 1)); continue; fi
    out=$("$H" compare "$A/$name.h5" "$B/$name.h5" "${ign[@]}" 2>&1); rc=$?
    # the tables `hetfl compare` does not read: per-width accuracy, FedDF's
    # server costs, the clients table
    for t in rounds_by_width feddf clients; do
      if [ $rc = 0 ] && h5ls "$A/$name.h5/$t" > /dev/null 2>&1; then
        [ "$(table_values "$A/$name.h5" $t '_s$')" = "$(table_values "$B/$name.h5" $t '_s$')" ] ||
          { rc=1; out="/$t differs"; }
      fi
    done
    if [ $rc = 0 ]; then
      echo "same  $name"; pass=$((pass + 1))
    else
      echo "DIFF  $name: $(echo "$out" | head -3 | tr '\n' ' ')"; fail=$((fail + 1))
    fi
  done < "$A/cases.txt"
  echo "refactor_oracle: $pass passed, $fail failed"
  [ "$fail" = 0 ]
}

case ${1:-} in
  run) [ $# -ge 3 ] || usage; shift; cmd_run "$@" ;;
  compare) [ $# -ge 3 ] || usage; shift; cmd_compare "$@" ;;
  *) usage ;;
esac
