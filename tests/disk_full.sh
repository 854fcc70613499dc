#!/usr/bin/env bash
# Disk full (issue #21, class 2): results written to a small tmpfs.  The run
# ends with exit 1 and the reason ("No space left on device"), never a crash
# (HDF5 1.10 crashes in its own shutdown on a file it could not close: main()
# then ends without it), no core, no temporary file; a file that had
# committed checkpoints stays readable and resumes elsewhere to the same
# results as an uninterrupted run.  Needs root (mount); skipped otherwise.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: mounting a tmpfs needs root"; exit 77; }
M1=$TMP/small M2=$TMP/mid
mkdir -p "$M1" "$M2"
mount -t tmpfs -o size=120k tmpfs "$M1" 2>/dev/null &&
  mount -t tmpfs -o size=400k tmpfs "$M2" 2>/dev/null ||
  { umount "$M1" 2>/dev/null; echo "SKIP: cannot mount a tmpfs here"; exit 77; }
trap 'umount "$M1" "$M2" 2>/dev/null; rm -rf "$TMP"' EXIT
S=$TMP/s.conf
{ small_suite 3000; printf '[run]\ncheckpoint_every = 3\n'; } > "$S"

# 1. full before the first flush: nothing committed, nothing left
for n in 1 2; do
  (cd "$TMP" && ulimit -c 0 && exec "$MPIEXEC" -n $n $OVERSUB "$HETFL" run "$S" -o "$M1/r.h5") \
    > "$TMP/o$n" 2> "$TMP/e$n"; rc=$?
  check "full at once, $n rank(s): exit 1 (got $rc)" test $rc = 1
  check "full at once, $n rank(s): the reason" \
    grep -Eq "r\.h5(\.tmp-[0-9]+)?: cannot write the results file: No space left on device" "$TMP/e$n"
  check "full at once, $n rank(s): no crash" \
    test -z "$(grep -Ei 'segmentation fault|signal: |backtrace|core dumped' "$TMP/e$n" || true)"
  check "full at once, $n rank(s): no file left on the full disk" test -z "$(ls -A "$M1")"
  check "full at once, $n rank(s): no core dump" test -z "$(ls "$TMP" | grep -E '^core' || true)"
done

# 2. full after some checkpoints: exit 1, the file readable, resumable elsewhere,
# ending identical to an uninterrupted run
"$HETFL" run "$S" -o "$TMP/ref.h5" > /dev/null 2>&1
check "uninterrupted reference run" test -s "$TMP/ref.h5"
(cd "$TMP" && ulimit -c 0 && exec "$HETFL" run "$S" -o "$M2/r.h5") > "$TMP/o3" 2> "$TMP/e3"; rc=$?
check "full mid-run: exit 1 (got $rc)" test $rc = 1
check "full mid-run: the reason and what the file holds" \
  grep -q "r.h5: cannot write the results file: No space left on device; it holds the rounds up to its last checkpoint" "$TMP/e3"
check "full mid-run: no crash" test -z "$(grep -Ei 'segmentation fault|signal: |backtrace' "$TMP/e3" || true)"
check "full mid-run: no temporary file" test -z "$(ls "$M2" | grep -F .tmp- || true)"
check "full mid-run: the file is readable (h5dump)" "$H5DUMP" -H "$M2/r.h5" > /dev/null 2>&1
cp "$M2/r.h5" "$TMP/resumed.h5"
"$HETFL" run "$S" --resume "$TMP/resumed.h5" > "$TMP/o4" 2> "$TMP/e4"; rc=$?
check "full mid-run, resumed on a disk with room: exit 0 (got $rc)" test $rc = 0
check "full mid-run, resumed: identical to the uninterrupted run (hetfl compare)" \
  "$HETFL" compare "$TMP/ref.h5" "$TMP/resumed.h5"
finish
