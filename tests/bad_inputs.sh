#!/usr/bin/env bash
# The bad-input catalogue (tests/bad-inputs/): malformed suites, traces and
# data files.  Each case is a suite whose first two lines say what must happen:
#   # expect: REGEX      the message (grep -E) on stderr, printed once
#   # mode: validate|run|both
# validate: `hetfl validate CASE` exits 2 with the message (pure parse errors);
# run: `mpirun -n 2 hetfl run CASE` — EVERY rank exits 2 (each rank's status is
# recorded by a wrapper), the message is printed once, no results file (nor a
# temporary one) is left behind, no core dump.  Cases that need big or binary
# inputs (a 1 MB line, corrupt Fashion-MNIST files) are generated here into
# $TMP.  Cases run 3 at a time to keep the test fast.
. "$(dirname "$0")/lib.sh"
D=$HETFL_SRCDIR/tests/bad-inputs

one_case() {  # CASE RESULTFILE
  local s=$1 res=$2 name want mode rc w
  name=$(basename "$s" .conf)
  want=$(sed -n '1s/^# expect: //p' "$s")
  mode=$(sed -n '2s/^# mode: //p' "$s")
  w=$TMP/$name
  mkdir -p "$w"
  {
    [ -n "$want" ] || echo "FAIL - $name: no '# expect:' line"
    case "$mode" in validate|run|both) ;; *) echo "FAIL - $name: bad '# mode: $mode'" ;; esac
    if [ "$mode" = validate ] || [ "$mode" = both ]; then
      (cd "$w" && "$HETFL" validate "$s") > /dev/null 2> "$w/verr"; rc=$?
      [ $rc = 2 ] && echo "ok - $name: validate exits 2" || echo "FAIL - $name: validate exits 2 (got $rc)"
      grep -Eq -- "$want" "$w/verr" && echo "ok - $name: validate message" ||
        { echo "FAIL - $name: validate message '$want'; got:"; head -c 600 "$w/verr"; echo; }
    fi
    if [ "$mode" = run ] || [ "$mode" = both ]; then
      (cd "$w" && RANKDIR=$w timeout 120 "$MPIEXEC" -n 2 $OVERSUB sh "$TMP/rankwrap.sh" \
         run "$s" -o "$w/out.h5") > "$w/out" 2> "$w/err"; rc=$?
      [ $rc = 0 ] && echo "ok - $name: mpirun -n 2: no rank crashed or hung" ||
        echo "FAIL - $name: mpirun -n 2 status $rc (crash, hang or signal)"
      local r0 r1
      r0=$(cat "$w/rank-0" 2>/dev/null); r1=$(cat "$w/rank-1" 2>/dev/null)
      [ "$r0" = 2 ] && [ "$r1" = 2 ] && echo "ok - $name: both ranks exit 2" ||
        echo "FAIL - $name: both ranks exit 2 (rank 0: ${r0:-?}, rank 1: ${r1:-?})"
      [ "$(grep -Ec -- "$want" "$w/err")" = 1 ] && echo "ok - $name: message, printed once" ||
        { echo "FAIL - $name: message '$want' once; got:"; head -c 600 "$w/err"; echo; }
      [ -z "$(ls "$w" | grep -E '^out\.h5' || true)" ] && echo "ok - $name: no results file left" ||
        echo "FAIL - $name: results file left behind: $(ls "$w" | grep -E '^out\.h5')"
      [ -z "$(ls "$w" | grep -E '^core' || true)" ] && echo "ok - $name: no core dump" ||
        echo "FAIL - $name: core dump"
    fi
  } > "$res" 2>&1
}

if [ "${1:-}" = --one ]; then  # worker mode (xargs): TMP is the parent's
  rm -rf "$TMP"; trap - EXIT       # lib.sh's own scratch dir: not ours to keep
  TMP=$BAD_INPUTS_TMP
  one_case "$2" "$TMP/res/$(basename "$2").txt"
  exit 0
fi

cat > "$TMP/rankwrap.sh" <<'EOF'
"$HETFL" "$@"
echo $? > "$RANKDIR/rank-${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-x}}"  # Open MPI, MPICH
exit 0
EOF

# ---- generated cases ----
G=$TMP/generated
mkdir -p "$G"
{ printf '# expect: g-1mb-line.conf:4: line is longer than 65536 bytes\n# mode: both\n[run]\nname = '
  head -c 1048576 /dev/zero | tr '\0' a; echo; } > "$G/g-1mb-line.conf"
{ printf '# expect: g-1mb-comment.conf:4: line is longer than 65536 bytes\n# mode: validate\n[run]\n# '
  head -c 1048576 /dev/zero | tr '\0' x; echo; } > "$G/g-1mb-comment.conf"
# an availability trace with a 1 MB line
{ printf '0,0,'; head -c 1048576 /dev/zero | tr '\0' 9; echo; } > "$G/avail-1mb.csv"
sed -e "s|files/avail-nan.csv|$G/avail-1mb.csv|" -e '1s/.*/# expect: avail-1mb.csv:1:/' \
  "$D/t-avail-nan.conf" > "$G/g-avail-1mb-line.conf"
# corrupt Fashion-MNIST directories (need the real files to copy from)
FM=/usr/share/datasets/fashion-mnist
if [ -f "$FM/train-images-idx3-ubyte.gz" ]; then
  fm_case() {  # NAME EXPECT  (then modify $G/NAME/ by the caller)
    mkdir -p "$G/$1"
    for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
      ln -s "$FM/$f.gz" "$G/$1/$f.gz"
    done
    printf '# expect: %s\n# mode: run\n[data]\ndataset = fashion-mnist\npath = %s\n' "$2" "$G/$1" > "$G/$1.conf"
  }
  p="g-[a-z-]*.conf:5: key 'data.path': "
  fm_case g-fmnist-truncated-gzip "$p.*train-images-idx3-ubyte.gz: corrupt or truncated gzip data"
  rm "$G/g-fmnist-truncated-gzip/train-images-idx3-ubyte.gz"
  head -c 300000 "$FM/train-images-idx3-ubyte.gz" > "$G/g-fmnist-truncated-gzip/train-images-idx3-ubyte.gz"
  fm_case g-fmnist-wrong-magic "$p.*train-labels-idx1-ubyte.gz: wrong IDX magic 0x00000803"
  rm "$G/g-fmnist-wrong-magic/train-labels-idx1-ubyte.gz"
  { printf '\0\0\10\3'; gzip -dc "$FM/train-labels-idx1-ubyte.gz" | tail -c +5; } | gzip -1 \
    > "$G/g-fmnist-wrong-magic/train-labels-idx1-ubyte.gz"
  fm_case g-fmnist-label-range "$p.*train-labels-idx1-ubyte.gz: label 10 of sample 0 is not in \[0,10\)"
  rm "$G/g-fmnist-label-range/train-labels-idx1-ubyte.gz"
  { gzip -dc "$FM/train-labels-idx1-ubyte.gz" | head -c 8; printf '\12'
    gzip -dc "$FM/train-labels-idx1-ubyte.gz" | tail -c +10; } | gzip -1 \
    > "$G/g-fmnist-label-range/train-labels-idx1-ubyte.gz"
  fm_case g-fmnist-count-mismatch "$p.*60000 images but 10000 labels|10000 labels but 60000 images"
  ln -sf "$FM/t10k-labels-idx1-ubyte.gz" "$G/g-fmnist-count-mismatch/train-labels-idx1-ubyte.gz"
  fm_case g-fmnist-missing-file "$p.*t10k-labels-idx1-ubyte.gz"
  rm "$G/g-fmnist-missing-file/t10k-labels-idx1-ubyte.gz"
  fm_case g-fmnist-plain-text "$p.*t10k-images-idx3-ubyte.gz: (wrong IDX magic|truncated IDX header)"
  rm "$G/g-fmnist-plain-text/t10k-images-idx3-ubyte.gz"
  echo "this is not an IDX file" > "$G/g-fmnist-plain-text/t10k-images-idx3-ubyte.gz"
  fm_case g-fmnist-trailing-bytes "$p.*t10k-images-idx3-ubyte.gz: 3 unexpected bytes after the IDX image data"
  rm "$G/g-fmnist-trailing-bytes/t10k-images-idx3-ubyte.gz"
  { gzip -dc "$FM/t10k-images-idx3-ubyte.gz"; printf 'abc'; } | gzip -1 \
    > "$G/g-fmnist-trailing-bytes/t10k-images-idx3-ubyte.gz"
else
  echo "# Fashion-MNIST absent: the corrupt-IDX cases are skipped"
fi

cases=("$D"/*.conf "$G"/*.conf)
echo "# ${#cases[@]} cases"
mkdir -p "$TMP/res"
for s in "${cases[@]}"; do printf '%s\0' "$s"; done |
  BAD_INPUTS_TMP=$TMP xargs -0 -P 3 -I{} bash "$0" --one {} 2>/dev/null || true
for s in "${cases[@]}"; do
  r=$TMP/res/$(basename "$s").txt
  if [ -f "$r" ]; then
    while IFS= read -r line; do
      case "$line" in ok\ -*) ok "${line#ok - }" ;; FAIL\ -*) bad "${line#FAIL - }" ;; *) echo "$line" ;; esac
    done < "$r"
  else
    bad "$(basename "$s"): no result"
  fi
done
check "the catalogue has at least 40 cases (${#cases[@]})" test ${#cases[@]} -ge 40
finish
