#!/usr/bin/env bash
# tests/fuzz/run.sh TARGET [SECONDS] — build and run one libFuzzer harness.
#
#   TARGET   conf (suite parser), leaf (LEAF JSON), idx (IDX images/labels), or
#            "all" (each in turn); SECONDS defaults to 60 (what CI runs).
#
# Builds with clang -fsanitize=fuzzer,address,undefined into $FUZZ_BUILD
# (default /tmp/hetfl-fuzz-build), seeds a scratch corpus from the committed
# tests/fuzz/corpus/TARGET/ (new inputs go to the scratch copy, never into the
# tree), runs for SECONDS and prints libFuzzer's final stats (exec counts).
# Exit status: 0 no crash, 1 crash/leak/timeout found (the reproducer is kept in
# $FUZZ_BUILD/artifacts/), 77 clang with libFuzzer unavailable.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
target=${1:?usage: tests/fuzz/run.sh conf|leaf|idx|all [SECONDS]}
secs=${2:-60}
build=${FUZZ_BUILD:-/tmp/hetfl-fuzz-build}
CC=${FUZZ_CC:-clang}
if [ "$target" = all ]; then
  rc=0
  for t in conf leaf idx; do "$0" "$t" "$secs" || rc=1; done
  exit $rc
fi
case "$target" in
  conf) srcs="src/conf.c src/options.c kernels/hf_util.c" ;;
  leaf) srcs="kernels/data_leaf.c kernels/data_idx.c kernels/hf_util.c" ;;
  idx)  srcs="kernels/data_idx.c kernels/hf_util.c" ;;
  *) echo "run.sh: unknown target '$target' (conf, leaf, idx, all)" >&2; exit 2 ;;
esac
if ! command -v "$CC" >/dev/null || \
   ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n){return 0;}' | \
     "$CC" -x c -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then
  echo "SKIP: $CC with libFuzzer not available (apt-get install clang)"; exit 77
fi
mkdir -p "$build/artifacts" "$build/corpus-$target"
exe=$build/fuzz_$target
newest=$(ls -t "$here/fuzz_$target.c" $(cd "$src" && printf "$src/%s " $srcs) \
         "$src"/src/*.h "$src"/kernels/*.h | head -1)
if [ ! -x "$exe" ] || [ "$newest" -nt "$exe" ]; then
  (cd "$src" && "$CC" -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -Ikernels -Isrc "$here/fuzz_$target.c" $srcs -lz -lm -o "$exe")
fi
cp -n "$here/corpus/$target"/* "$build/corpus-$target"/ 2>/dev/null || true
cd "$build"
# -rss_limit_mb: the readers may legitimately allocate a few hundred MB for a
# header that declares large dimensions; -max_len covers the 1 MB-line cases.
exec "$exe" "$build/corpus-$target" -max_total_time="$secs" -print_final_stats=1 \
  -artifact_prefix="$build/artifacts/$target-" -rss_limit_mb=2560 -max_len=65536 -timeout=20
