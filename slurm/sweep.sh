#!/usr/bin/env bash
# sweep.sh — submit slurm/sweep.sbatch as a job array of (sweep variants × seeds)
# of a suite; the array size comes from `hetfl expand SUITE`.
#
#   slurm/sweep.sh [--seeds "1 2 3"] [--max-parallel K] [--wait] [--dry-run] \
#                  [--sbatch "extra sbatch options"] SUITE [hetfl run options...]
#
# Prints the array job id and where the results go
# ($HETFL_RESULTS/<suite>-<array job id>/v<variant>-s<seed>.h5); --wait blocks until
# every task has finished (sbatch --wait) and fails if one failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seeds=1 maxpar="" wait="" dry="" sbopts=""
usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds=$2; shift 2 ;;
    --max-parallel) maxpar=$2; shift 2 ;;
    --wait) wait=--wait; shift ;;
    --dry-run) dry=1; shift ;;
    --sbatch) sbopts=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "sweep.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || { usage >&2; exit 2; }
suite=$1; shift
HETFL=${HETFL:-$(command -v hetfl || echo ./hetfl)}
[ -x "$HETFL" ] || { echo "sweep.sh: hetfl binary '$HETFL' not found. HINT: export HETFL=/path/to/hetfl" >&2; exit 2; }
read -r -a seedlist <<< "$seeds"
[ ${#seedlist[@]} -ge 1 ] || { echo "sweep.sh: --seeds is empty" >&2; exit 2; }
for s in "${seedlist[@]}"; do
  case "$s" in ''|*[!0-9]*) echo "sweep.sh: seed '$s' is not a non-negative integer" >&2; exit 2 ;; esac
done
# hetfl expand validates every variant (bad suite → exit 2 before anything is queued)
nvar=$("$HETFL" expand "$suite" "$@" | wc -l)
[ "$nvar" -ge 1 ] || { echo "sweep.sh: '$HETFL expand $suite' listed no variants" >&2; exit 2; }
ntask=$((nvar * ${#seedlist[@]}))
array="0-$((ntask - 1))${maxpar:+%$maxpar}"
export HETFL HETFL_SEEDS="${seedlist[*]}" HETFL_SLURM_DIR="$here"
# shellcheck disable=SC2206  # --sbatch options are deliberately word-split
cmd=(sbatch --parsable $wait --array="$array" $sbopts "$here/sweep.sbatch" "$suite" "$@")
echo "sweep.sh: $nvar variant(s) x ${#seedlist[@]} seed(s) = $ntask task(s)" >&2
printf 'sweep.sh: HETFL_SEEDS="%s"' "$HETFL_SEEDS" >&2; printf ' %q' "${cmd[@]}" >&2; echo >&2
[ -n "$dry" ] && exit 0
set +e
jobid=$("${cmd[@]}")
rc=$?
set -e
jobid=${jobid%%;*}
echo "sweep.sh: array job ${jobid:-?}; results in ${HETFL_RESULTS:-results}/$(basename "$suite" .conf)-${jobid:-?}/" >&2
echo "$jobid"
exit $rc
