#!/usr/bin/env bash
# scaling.sh — weak- and strong-scaling series of a suite on Slurm, collected into
# one summary (wall time per round, speed-up, parallel efficiency).
#
#   slurm/scaling.sh [--ranks "1 2 4 8"] [--series both|weak|strong] [--rounds N]
#                    [--out DIR] [--wait] [--dry-run] [--sbatch "sbatch options"]
#                    SUITE [hetfl run options...]
#   slurm/scaling.sh --collect DIR          (re)build DIR/summary.tsv from DIR/*.h5
#
# strong: the same total work on every rank count: the suite's clients,
#         clients_per_round and data, spread over more ranks.
# weak:   the same work PER RANK: the suite describes the work of ONE rank; with R
#         ranks, federation.clients, federation.clients_per_round AND the data are
#         multiplied by R, so every client keeps its shard size and every rank its
#         share of samples per round.  Data: data.train_samples x R (Fashion-MNIST,
#         LEAF; the suite must set it, to at most 60000 / max(R) for Fashion-MNIST),
#         or data.synthetic_devices x R (synthetic data, generated per device).
# Each point is one job of slurm/hetfl.sbatch with `-n R` writing
# DIR/<series>-n<R>.h5; a final job (afterany dependency) runs --collect and
# writes DIR/summary.tsv (and prints it into its log):
#   series ranks clients clients_per_round rounds wall_per_round_s speedup efficiency file
# wall_per_round_s is the mean measured wall time per round without round 1
# (`hetfl report`); R0 is the smallest rank count of the series:
#   strong: speedup = T(R0) / T(R), efficiency = speedup * R0 / R
#   weak:   efficiency = T(R0) / T(R), speedup = efficiency * R / R0 (scaled speed-up)
# `hetfl-plot --scaling DIR/summary.tsv` draws the curves.  With --wait the script
# returns when the summary exists (exit 1 if a point failed).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
HETFL=${HETFL:-$(command -v hetfl || echo ./hetfl)}
ranks="1 2 4" series=both rounds="" outdir="" wait="" dry="" sbopts="" collect=""
usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) ranks=$2; shift 2 ;;
    --series) series=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) outdir=$2; shift 2 ;;
    --wait) wait=1; shift ;;
    --dry-run) dry=1; shift ;;
    --sbatch) sbopts=$2; shift 2 ;;
    --collect) collect=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "scaling.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    *) break ;;
  esac
done
[ -x "$HETFL" ] || { echo "scaling.sh: hetfl binary '$HETFL' not found. HINT: export HETFL=/path/to/hetfl" >&2; exit 2; }

# ---------------------------------------------------------------- collect ---
# Readers of a pipe below read all of it: under pipefail a reader that exits early
# (awk's exit, grep -q, head) kills a writer whose output spans more than one
# write with SIGPIPE, and set -e then ends this script with status 141 and no
# message (the resolved configuration is ~9 KB: it happened under load).
# column N of `hetfl report --csv` by header name
csv_col() { awk -F, -v c="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next } !done { print $k; done = 1 }'; }
# value of KEY in [SECTION] of a resolved configuration (hetfl validate / h5 /config)
conf_get() { awk -v s="[$1]" -v k="$2" '/^\[/ { in_s = ($1 == s); next } in_s && $1 == k && !done { print $3; done = 1 }'; }

do_collect() {
  local dir=$1 f s r t
  local sum=$dir/summary.tsv
  printf 'series\tranks\tclients\tclients_per_round\trounds\twall_per_round_s\tspeedup\tefficiency\tfile\n' > "$sum.tmp"
  local bad=0
  for s in strong weak; do
    local r0="" t0=""
    # rank counts in increasing order
    for r in $(ls "$dir" 2>/dev/null | sed -n "s/^$s-n\([0-9]*\)\.h5\$/\1/p" | sort -n); do
      f=$dir/$s-n$r.h5
      local csv
      if ! csv=$("$HETFL" report --csv "$f"); then bad=1; continue; fi
      t=$(printf '%s\n' "$csv" | csv_col wall_per_round_s)
      local nr; nr=$(printf '%s\n' "$csv" | csv_col rounds)
      local nc nk nranks
      nc=$(printf '%s\n' "$csv" | csv_col clients)
      nk=$(printf '%s\n' "$csv" | csv_col clients_per_round)
      nranks=$(printf '%s\n' "$csv" | csv_col ranks)   # what the run really used
      [ "$nranks" = "$r" ] || { echo "scaling.sh: $f ran on $nranks ranks, not $r" >&2; bad=1; }
      if [ -z "$r0" ]; then r0=$r; t0=$t; fi
      awk -v s="$s" -v r="$r" -v r0="$r0" -v t="$t" -v t0="$t0" -v nc="${nc:--}" -v nk="${nk:--}" \
          -v nr="$nr" -v f="$f" 'BEGIN {
        if (s == "strong") { sp = t0 / t; eff = sp * r0 / r } else { eff = t0 / t; sp = eff * r / r0 }
        printf "%s\t%d\t%s\t%s\t%d\t%.6g\t%.4g\t%.4g\t%s\n", s, r, nc, nk, nr, t, sp, eff, f }' >> "$sum.tmp"
    done
  done
  # a point whose job left a log but no results file failed
  for f in "$dir"/*-n*.log; do
    [ -e "$f" ] || continue
    [ -f "${f%.log}.h5" ] || { echo "scaling.sh: no results for $(basename "${f%.log}") (see $f)" >&2; bad=1; }
  done
  mv "$sum.tmp" "$sum"
  column -t -s "$(printf '\t')" "$sum" 2>/dev/null || cat "$sum"
  echo "scaling.sh: summary in $sum"
  return $bad
}

if [ -n "$collect" ]; then do_collect "$collect"; exit $?; fi

# ---------------------------------------------------------------- submit ----
[ $# -ge 1 ] || { usage >&2; exit 2; }
suite=$1; shift
case "$series" in both) list="strong weak" ;; weak|strong) list=$series ;;
  *) echo "scaling.sh: --series must be both, weak or strong" >&2; exit 2 ;; esac
for r in $ranks; do
  case "$r" in ''|*[!0-9]*|0) echo "scaling.sh: rank count '$r' is not a positive integer" >&2; exit 2 ;; esac
done
extra=("$@")
[ -n "$rounds" ] && extra+=(--set "federation.rounds=$rounds")
# the suite's clients and clients_per_round (validates the suite before queueing anything)
cfg=$("$HETFL" validate "$suite" "${extra[@]}")
c1=$(printf '%s\n' "$cfg" | conf_get federation clients)
k1=$(printf '%s\n' "$cfg" | conf_get federation clients_per_round)
ds=$(printf '%s\n' "$cfg" | conf_get data dataset)
n1=$(printf '%s\n' "$cfg" | conf_get data train_samples)
d1=$(printf '%s\n' "$cfg" | conf_get data synthetic_devices)
rmax=$(printf '%s\n' $ranks | sort -n | tail -1)
if [[ " $list " == *" weak "* ]] && [ "$ds" != synthetic ]; then
  if [ "${n1:-0}" = 0 ]; then
    echo "scaling.sh: weak scaling grows the data with the ranks, but the suite uses the whole" >&2
    echo "  training set (data.train_samples = 0), which cannot grow." >&2
    echo "HINT: give the samples of ONE rank, e.g. --set data.train_samples=$(( 60000 / rmax ))" \
         "(Fashion-MNIST: 60000 / $rmax ranks), or run --series strong" >&2
    exit 2
  fi
  if [ "$ds" = fashion-mnist ] && [ $(( n1 * rmax )) -gt 60000 ]; then
    echo "scaling.sh: weak scaling to $rmax ranks needs $n1 x $rmax = $(( n1 * rmax )) training samples;" \
         "Fashion-MNIST has 60000. HINT: --set data.train_samples=$(( 60000 / rmax ))" >&2
    exit 2
  fi
fi
name=$(basename "$suite" .conf)
outdir=${outdir:-${HETFL_RESULTS:-results}/scaling-$name-$(date +%Y%m%d-%H%M%S)}
outdir=$(realpath -m "$outdir")
[ -n "$dry" ] || mkdir -p "$outdir"
export HETFL HETFL_SLURM_DIR="$here"
ids=()
for s in $list; do
  for r in $ranks; do
    set_args=()
    if [ "$s" = weak ]; then
      set_args=(--set "federation.clients=$((c1 * r))" --set "federation.clients_per_round=$((k1 * r))")
      if [ "$ds" = synthetic ]; then set_args+=(--set "data.synthetic_devices=$((d1 * r))")
      else set_args+=(--set "data.train_samples=$((n1 * r))"); fi
    fi
    # shellcheck disable=SC2206  # --sbatch options are deliberately word-split
    cmd=(sbatch --parsable --job-name="hetfl-$s-n$r" -n "$r" --output="$outdir/$s-n$r.log"
         --error="$outdir/$s-n$r.log" $sbopts "$here/hetfl.sbatch" "$suite" "${extra[@]}" "${set_args[@]}")
    printf 'scaling.sh: HETFL_OUTPUT=%s' "$outdir/$s-n$r.h5" >&2; printf ' %q' "${cmd[@]}" >&2; echo >&2
    [ -n "$dry" ] && continue
    id=$(HETFL_OUTPUT="$outdir/$s-n$r.h5" "${cmd[@]}")
    ids+=("${id%%;*}")
  done
done
[ -n "$dry" ] && exit 0
dep=$(IFS=:; echo "${ids[*]}")
# shellcheck disable=SC2206
ccmd=(sbatch --parsable ${wait:+--wait} --job-name=hetfl-scaling-collect -n 1 --dependency="afterany:$dep"
      --output="$outdir/collect.log" --error="$outdir/collect.log" $sbopts
      --wrap="$(printf '%q ' bash "$here/scaling.sh" --collect "$outdir")")
echo "scaling.sh: jobs ${ids[*]}; summary job waits for them" >&2
set +e
cid=$("${ccmd[@]}")
rc=$?
set -e
echo "scaling.sh: collect job ${cid%%;*}; summary will be $outdir/summary.tsv" >&2
echo "$outdir"
if [ -n "$wait" ]; then
  [ -f "$outdir/summary.tsv" ] || rc=1
  cat "$outdir/collect.log" >&2 2>/dev/null || true
fi
exit $rc
