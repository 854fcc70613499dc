#!/usr/bin/env bash
# tests/fuzz/run.sh TARGET [SECONDS] — build and run one libFuzzer harness.
#
#   TARGET   conf (suite parser), leaf (LEAF JSON), idx (IDX images/labels),
#            avail (availability trace CSV), or
#            "all" (each in turn); SECONDS defaults to 60 (what CI runs).
#
# Builds with clang -fsanitize=fuzzer,address,undefined into $FUZZ_BUILD
# (default /tmp/hetfl-fuzz-build; scratch, emptied when it was configured for
# another source tree), seeds a scratch corpus from the committed
# tests/fuzz/corpus/TARGET/ (new inputs go to the scratch copy, never into the
# tree), runs for SECONDS and prints libFuzzer's final stats (exec counts).
# Exit status: 0 no crash, 1 crash/leak/timeout found (the reproducer is kept in
# $FUZZ_BUILD/artifacts/), 77 clang with libFuzzer unavailable.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
target=${1:?usage: tests/fuzz/run.sh conf|leaf|idx|avail|all [SECONDS]}
secs=${2:-60}
build=${FUZZ_BUILD:-/tmp/hetfl-fuzz-build}
CC=${FUZZ_CC:-clang}
if [ "$target" = all ]; then
  rc=0
  for t in conf leaf idx avail; do
    r=0; "$0" "$t" "$secs" || r=$?
    [ $r = 77 ] && exit 77
    [ $r = 0 ] || rc=1
  done
  exit $rc
fi
case "$target" in
  conf|leaf|idx|avail) ;;
  *) echo "run.sh: unknown target '$target' (conf, leaf, idx, avail, all)" >&2; exit 2 ;;
esac
if ! command -v "$CC" >/dev/null || \
   ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){return 0;}' | \
     "$CC" -x c -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then
  echo "SKIP: $CC with libFuzzer not available (apt-get install clang)"; exit 77
fi
# The library is built by the project's own configure/make with clang and
# coverage instrumentation (fuzzer-no-link), so every parser's dependencies
# come along; only the harness is linked with libFuzzer's main.
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
mkdir -p "$build/artifacts" "$build/corpus-$target"
srcdir=$src
[ -f "$src/config.status" ] && srcdir=$build/tree
# a scratch build configured for another source tree (another clone) starts over
if [ -f "$build/Makefile" ] && [ "$(sed -n 's/^VPATH = //p' "$build/Makefile")" != "$srcdir" ]; then
  rm -rf "${build:?}"/*
  mkdir -p "$build/artifacts" "$build/corpus-$target"
fi
if [ -f "$src/config.status" ]; then
  # configured in-tree: configure refuses a second, out-of-tree build, so build
  # from a copy of the sources (refreshed each time; timestamps kept for make)
  srcdir=$build/tree
  mkdir -p "$srcdir"
  tar -C "$src" --exclude-vcs --exclude=.libs --exclude=.deps --exclude='*.o' --exclude='*.lo' \
    --exclude='*.la' --exclude=config.status --exclude=config.log --exclude=config.h \
    --exclude=stamp-h1 --exclude=libtool --exclude=./Makefile --exclude=./hetfl --exclude=./results --exclude=./fuzz-build \
    --exclude='./tests/*.log' --exclude='./tests/*.trs' -cf - . | tar -C "$srcdir" -xpf -
fi
if [ ! -f "$build/Makefile" ]; then
  (cd "$build" && "$srcdir/configure" -q CC="$CC" CFLAGS="-g -O1 $san -fsanitize=fuzzer-no-link" \
     LDFLAGS="$san" > "$build/configure.log" 2>&1) || { cat "$build/configure.log"; exit 1; }
fi
make -s -C "$build" -j"$(nproc)" libhetfl.la > "$build/make.log" 2>&1 || { tail -30 "$build/make.log"; exit 1; }
exe=$build/fuzz_$target
if [ ! -x "$exe" ] || [ "$here/fuzz_$target.c" -nt "$exe" ] || [ "$build/libhetfl.la" -nt "$exe" ]; then
  "$CC" -std=c11 -D_GNU_SOURCE -g -O1 $san -fsanitize=fuzzer -I"$build" -I"$srcdir/kernels" \
    $(for d in "$srcdir"/src/*/; do printf -- "-I%s " "$d"; done) \
    $(pkg-config --cflags ompi-c hdf5-openmpi openblas) "$here/fuzz_$target.c" \
    "$build/.libs/libhetfl.a" $(pkg-config --libs ompi-c hdf5-openmpi openblas hwloc zlib) -lm -o "$exe"
fi
cp -n "$here/corpus/$target"/* "$build/corpus-$target"/ 2>/dev/null || true
cd "$build"
# -rss_limit_mb: the readers may legitimately allocate a few hundred MB for a
# header that declares large dimensions; -max_len covers the 1 MB-line cases.
exec "$exe" "$build/corpus-$target" -max_total_time="$secs" -print_final_stats=1 \
  -artifact_prefix="$build/artifacts/$target-" -rss_limit_mb=2560 -max_len=65536 -timeout=20
