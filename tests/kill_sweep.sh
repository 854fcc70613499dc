#!/usr/bin/env bash
# Kill at every write (issue #21, class 3): the run is killed (SIGKILL, by
# strace's fault injection) at its N-th pwrite64, for every N the run makes.
# Afterwards either no results file exists (killed before the first flush
# published it: a restart works) or the file is readable (h5dump) and
# `--resume` finishes it identical to an uninterrupted run (hetfl compare).
# It holds because no HDF5 object is created after the file is published:
# /checkpoint's two slots and /model/final are made before (hf_ckpt_prepare,
# hf_run_open_results), later writes overwrite data in place or extend the
# tables.  Needs strace (CI installs it: .ci/run); skipped without it.
. "$(dirname "$0")/lib.sh"
command -v strace > /dev/null || { echo "SKIP: strace not installed"; exit 77; }
S=$TMP/s.conf
{ small_suite 7; printf '[run]\ncheckpoint_every = 3\n'; } > "$S"
"$HETFL" run "$S" -o "$TMP/ref.h5" > /dev/null 2>&1
check "uninterrupted reference run" test -s "$TMP/ref.h5"
# how many pwrite64 calls a whole run makes
strace -f -c -o "$TMP/count" -e trace=pwrite64 "$HETFL" run "$S" -o "$TMP/count.h5" > /dev/null 2>&1
W=$(awk '$NF == "pwrite64" { print $4 }' "$TMP/count")
check "the run makes pwrite64 calls (${W:-0})" test "${W:-0}" -gt 10
nofile=0 usable=0 broken=0
for n in $(seq 1 "${W:-0}"); do
  d=$TMP/k$n; mkdir -p "$d"
  (cd "$d" && ulimit -c 0 && exec strace -f -o /dev/null -e trace=pwrite64 \
     -e inject=pwrite64:signal=SIGKILL:when=$n "$HETFL" run "$S" -o "$d/r.h5") > /dev/null 2>&1
  why=
  if [ ! -e "$d/r.h5" ]; then
    "$HETFL" run "$S" -o "$d/r.h5" > /dev/null 2>&1 || why="no file, and a restart fails"
    [ -z "$why" ] && nofile=$((nofile + 1))
  elif ! "$H5DUMP" -H "$d/r.h5" > /dev/null 2>&1; then
    why="h5dump cannot read the file"
  elif ! "$HETFL" run "$S" --resume "$d/r.h5" > "$d/res.log" 2>&1; then
    why="--resume fails: $(grep -v '^warning' "$d/res.log" | grep -m1 hetfl:)"
  elif ! "$HETFL" compare "$TMP/ref.h5" "$d/r.h5" > /dev/null 2>&1; then
    why="--resume ends different from the uninterrupted run"
  else
    usable=$((usable + 1))
  fi
  if [ -n "$why" ]; then broken=$((broken + 1)); bad "killed at pwrite64 $n of $W: $why"; fi
  rm -rf "$d"
done
echo "# killed at each of $W writes: $nofile before the file was published (restarted), $usable resumed to the same result, $broken broken"
check "every kill left a usable state ($broken broken of $W)" test $broken = 0
finish
