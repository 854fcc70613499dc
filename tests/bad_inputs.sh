#!/usr/bin/env bash
# The bad-input catalogue (tests/bad-inputs/): malformed suites, traces and
# data files, special files, output paths.  Each case is a suite whose first
# lines say what must happen:
#   # expect: REGEX      the message (grep -E) on stderr, printed once
#   # mode: validate|run|both
#   # args: ARGS         (optional) what follows `hetfl run`; default
#                        "@S@ -o @W@/out.h5 --force"
#   # suite: PATH        (optional) the suite validate reads; default the case
#   # status: N          (optional) every rank's exit status; default 2.  1 (out
#                        of memory: MPI_Abort ends the job) is mpirun's status
#                        instead, the message printed at least once
#   # ulimit: ARGS       (optional) run under `ulimit ARGS` (e.g. -v 3000000)
#   # env: VAR=VALUE     (optional) one environment variable for the run (e.g.
#                        HETFL_MEMORY_LIMIT=BYTES, the memory each rank may use)
# In ARGS and PATH, @S@ is the case file, @W@ the case's scratch directory,
# @G@ the directory of generated inputs (a FIFO, big files), @D@ tests/bad-inputs.
# validate: `hetfl validate SUITE` exits 2 with the message (pure parse errors);
# run: `mpirun -n 2 hetfl run ARGS` -- EVERY rank exits 2 (each rank's status is
# recorded by a wrapper), the message is printed once, a results file that
# existed before (@W@/out.h5, random bytes: what --force would replace) is
# untouched, no temporary file (*.tmp-*) is left behind, no core dump.  Cases
# that need big, binary or special inputs (a 1 MB line, corrupt Fashion-MNIST
# files, a FIFO, /dev/zero) are generated here into $TMP.  Cases run 3 at a
# time to keep the test fast.
. "$(dirname "$0")/lib.sh"
D=$HETFL_SRCDIR/tests/bad-inputs

hdr() { sed -n "1,8s/^# $1: //p" "$2" | head -n 1; }  # KEY CASE: a header line's value
subst() { local v=$1; v=${v//@S@/$2}; v=${v//@W@/$3}; v=${v//@G@/$G}; v=${v//@D@/$D}; printf '%s' "$v"; }

one_case() {  # CASE RESULTFILE
  local s=$1 res=$2 name want mode rc w args suite status lim
  name=$(basename "$s" .conf)
  want=$(hdr expect "$s")
  mode=$(hdr mode "$s")
  status=$(hdr status "$s"); status=${status:-2}
  w=$TMP/$name
  args=$(hdr args "$s"); args=$(subst "${args:-@S@ -o @W@/out.h5 --force}" "$s" "$w")
  suite=$(hdr suite "$s"); suite=$(subst "${suite:-@S@}" "$s" "$w")
  lim=$(hdr ulimit "$s"); lim=${lim:--c 0}   # no core file may appear; the check below looks anyway
  local envv; envv=$(hdr env "$s"); envv=${envv:-HF_BAD_INPUTS_NO_ENV=1}
  mkdir -p "$w"
  if [ -n "$SANITIZED" ] && [ "${lim#-v}" != "$lim" ]; then  # ASan reserves ~16 TB of shadow address
    echo "ok - $name: skipped: a sanitizer build cannot start under ulimit -v" > "$res"; return
  fi
  {
    [ -n "$want" ] || echo "FAIL - $name: no '# expect:' line"
    case "$mode" in validate|run|both) ;; *) echo "FAIL - $name: bad '# mode: $mode'" ;; esac
    if [ "$mode" = validate ] || [ "$mode" = both ]; then
      (cd "$w" && timeout 60 "$HETFL" validate "$suite") > /dev/null 2> "$w/verr"; rc=$?
      [ $rc = 2 ] && echo "ok - $name: validate exits 2" || echo "FAIL - $name: validate exits 2 (got $rc)"
      grep -Eq -- "$want" "$w/verr" && echo "ok - $name: validate message" ||
        { echo "FAIL - $name: validate message '$want'; got:"; head -c 600 "$w/verr"; echo; }
    fi
    if [ "$mode" = run ] || [ "$mode" = both ]; then
      cp "$TMP/previous.h5" "$w/out.h5"  # a results file from before: never touched by a failing run
      eval "set -- $args"
      (cd "$w" && ulimit $lim && export "$envv" && RANKDIR=$w timeout 120 "$MPIEXEC" -n 2 $OVERSUB \
         $(mpi_env "${envv%%=*}") sh "$TMP/rankwrap.sh" run "$@") > "$w/out" 2> "$w/err"; rc=$?
      if [ "$status" = 1 ]; then  # MPI_Abort: the job ends with status 1
        [ $rc = 1 ] && echo "ok - $name: mpirun -n 2 exits 1" ||
          echo "FAIL - $name: mpirun -n 2 exits 1 (got $rc)"
        [ "$(grep -Ec -- "$want" "$w/err")" -ge 1 ] && echo "ok - $name: message" ||
          { echo "FAIL - $name: message '$want'; got:"; head -c 600 "$w/err"; echo; }
      else
        [ $rc = 0 ] && echo "ok - $name: mpirun -n 2: no rank crashed or hung" ||
          echo "FAIL - $name: mpirun -n 2 status $rc (crash, hang or signal)"
        local r0 r1
        r0=$(cat "$w/rank-0" 2>/dev/null); r1=$(cat "$w/rank-1" 2>/dev/null)
        [ "$r0" = "$status" ] && [ "$r1" = "$status" ] && echo "ok - $name: both ranks exit $status" ||
          echo "FAIL - $name: both ranks exit $status (rank 0: ${r0:-?}, rank 1: ${r1:-?})"
        [ "$(grep -Ec -- "$want" "$w/err")" = 1 ] && echo "ok - $name: message, printed once" ||
          { echo "FAIL - $name: message '$want' once; got:"; head -c 600 "$w/err"; echo; }
      fi
      cmp -s "$TMP/previous.h5" "$w/out.h5" && echo "ok - $name: the existing results file is untouched" ||
        echo "FAIL - $name: the existing results file $w/out.h5 was replaced, changed or removed"
      local left
      left=$(cd "$w" && find . -name '*.tmp-*' -o -name 'out.h5?*' | head -n 3)
      [ -z "$left" ] && echo "ok - $name: no temporary or extra results file left" ||
        echo "FAIL - $name: left behind: $left"
      [ -z "$(ls "$w" | grep -E '^core' || true)" ] && echo "ok - $name: no core dump" ||
        echo "FAIL - $name: core dump"
    fi
  } > "$res" 2>&1
}

if [ "${1:-}" = --one ]; then  # worker mode (xargs): TMP is the parent's
  rm -rf "$TMP"; trap - EXIT       # lib.sh's own scratch dir: not ours to keep
  TMP=$BAD_INPUTS_TMP G=$BAD_INPUTS_TMP/generated
  one_case "$2" "$TMP/res/$(basename "$2").txt"
  exit 0
fi

cat > "$TMP/rankwrap.sh" <<'EOF'
"$HETFL" "$@"
echo $? > "$RANKDIR/rank-${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-x}}"  # Open MPI, MPICH
exit 0
EOF

# a sanitizer build (configure --enable-sanitizers; its flags are in `hetfl --version`)
SANITIZED=$(ASAN_OPTIONS=detect_leaks=0 "$HETFL" --version 2>/dev/null | grep '^cflags:.*-fsanitize=address' || true)
export SANITIZED

# ---- generated cases ----
G=$TMP/generated
mkdir -p "$G"
head -c 4096 /dev/urandom > "$TMP/previous.h5"
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
  # degenerate populations (issue #21, class 7): 100000 clients for 60000 samples
  printf '# expect: %s\n# mode: run\n[data]\ndataset = fashion-mnist\n[model]\narch = logreg\n[federation]\nclients = 100000\nclients_per_round = 10\nrounds = 1\n' \
    "g-fmnist-100000-clients.conf:8: key 'federation.clients': 40000 of the 100000 clients have no training samples \\(client 60000 is the first; 60000 samples, iid partition" \
    > "$G/g-fmnist-100000-clients.conf"
else
  echo "# Fashion-MNIST absent: the corrupt-IDX cases are skipped"
fi

# special files as inputs (issue #21, class 1): every path-taking input --
# the suite, an include, the data, every trace and table, the resume file --
# accepts regular files only: a FIFO (no writer: an open would block), a
# character device (/dev/zero: endless; /dev/null: empty), a directory, a link
# to a FIFO or to a directory, each refused at once, naming the key and the file.
mkfifo "$G/fifo"
ln -s "$G/fifo" "$G/fifo-link"
mkdir -p "$G/adir"
ln -s "$G/no-such-target" "$G/dangling"
ln -s "$G/adir" "$G/dir-link"
BASE=$(small_suite 2)
gcase() {  # NAME EXPECT HEADER... (each "key: value"); the suite's lines on stdin
  local n=$1 e=$2; shift 2
  { printf '# expect: %s\n' "$e"; for h; do printf '# %s\n' "$h"; done; cat; } > "$G/$n.conf"
}
for kind in fifo devzero devnull dir dirlink fifolink dangling; do
  case $kind in
    dangling) f=$G/dangling it='a link to nothing' ;;
    fifo) f=$G/fifo it='a FIFO' ;;
    devzero) f=/dev/zero it='a character device' ;;
    devnull) f=/dev/null it='a character device' ;;
    dir) f=$G/adir it='a directory' ;;
    dirlink) f=$G/dir-link it='a directory' ;;
    fifolink) f=$G/fifo-link it='a FIFO' ;;
  esac
  what="not a regular file \\(it is $it\\)"
  [ $kind = dangling ] && what="cannot open: No such file or directory"
  fre=${f//./\\.}
  # keys of the suite (checked by validate and, before any work, by run);
  # the suite's lines separated by ';'
  while IFS='|' read -r key lines; do
    n=g-special-$kind-${key//./-}
    wantk="$n.conf:[0-9]+: key '$key': $fre: $what"
    case "$key/$kind" in   # these may be directories: what is inside is checked then
      data.path/dir*|data.test_path/dir*|energy.carbon_file/dir*) continue ;;
      */dangling) ;;
      data.path/*|data.test_path/*|energy.carbon_file/*)
        wantk="$n.conf:[0-9]+: key '$key': $fre: not a regular file or a directory \\(it is $it\\)" ;;
    esac
    lines=${lines//@F@/$f}
    { echo "$BASE"; printf '%s\n' "${lines//;/$'\n'}"; } | gcase "$n" "$wantk" "mode: both"
  done <<'KEYS'
availability.file|[availability];model = trace;file = @F@
devices.file|[devices];file = @F@
energy.carbon_file|[energy];carbon_file = @F@
energy.regions_file|[energy];regions_file = @F@
topology.path|[topology];kind = file;path = @F@
data.path|[data];path = @F@
data.test_path|[data];test_path = @F@
stream.trace|[stream];trace = @F@
feddf.server_file|[federation];strategy = feddf;[feddf];server_data = file;server_file = @F@
KEYS
  # an include, the suite itself, the resume file
  n=g-special-$kind-include
  { echo "include = $f"; echo "$BASE"; } | gcase "$n" "$n.conf:[0-9]+: include '$fre': $what" "mode: both"
  n=g-special-$kind-suite
  echo "$BASE" | gcase "$n" "^hetfl: $fre: $what" "mode: both" "suite: $f" "args: $f -o @W@/out.h5 --force"
  n=g-special-$kind-resume
  rwhat=$what; [ $kind = dangling ] && rwhat="No such file or directory"
  echo "$BASE" | gcase "$n" "^hetfl run: --resume $fre: cannot resume: $rwhat" "mode: run" "args: @S@ --resume $f"
done
# the availability model with its own file key, dataset files read by their loaders
{ echo "$BASE" | sed 's/^dataset = synthetic/dataset = hdf5\npath = '"${G//\//\\/}"'\/adir/'; } |
  gcase g-special-dir-hdf5-data "key 'data.path': $G/adir: not a regular file \(it is a directory\)" "mode: run"
# FedDF's server file (the generic layout, written by h5import) with 5 input
# features for the suite's 60
printf '1 2 3 4 5\n6 7 8 9 10\n' > "$G/srv5.txt"; printf '0\n1\n' > "$G/srv5-labels.txt"
printf 'PATH inputs\nINPUT-CLASS TEXTFP\nRANK 2\nDIMENSION-SIZES 2 5\nOUTPUT-CLASS FP\nOUTPUT-SIZE 32\n' > "$G/srv5.cfg"
printf 'PATH labels\nINPUT-CLASS TEXTIN\nRANK 1\nDIMENSION-SIZES 2\nOUTPUT-CLASS IN\nOUTPUT-SIZE 32\n' > "$G/srv5-labels.cfg"
h5import "$G/srv5.txt" -c "$G/srv5.cfg" "$G/srv5-labels.txt" -c "$G/srv5-labels.cfg" -o "$G/srv5.h5" > /dev/null
{ echo "$BASE"; printf '[federation]\nstrategy = feddf\n[feddf]\nserver_data = file\nserver_file = %s\n' "$G/srv5.h5"
  printf 'server_samples = 2\nval_samples = 0\n'; } |
  gcase g-feddf-server-file-shape "g-feddf-server-file-shape.conf:[0-9]+: key 'feddf.server_file': .*srv5\.h5: inputs of shape 1x1x5; the run's are 1x1x60" "mode: run"
# a file with HDF5's signature and nothing else given to --resume: refused
# (exit 2) when reopened, after the data load
{ printf '\211HDF\r\n\032\n'; head -c 4096 /dev/zero; } > "$G/fake.h5"
echo "$BASE" | gcase g-resume-fake-hdf5 "cannot resume: .*fake\.h5: not a readable HDF5 results file" "mode: run" \
  "args: @S@ --resume $G/fake.h5"
: > "$G/empty.h5"
echo "$BASE" | gcase g-resume-empty-file "^hetfl run: --resume .*empty\.h5: cannot resume: not an HDF5 results file$" \
  "mode: run" "args: @S@ --resume $G/empty.h5"
# size caps: a suite over 16 MiB, a device table over 1 MiB (sparse files: nothing is read)
printf '# expect: g-suite-too-big.conf: file is larger than 16 MiB \\(17825792 bytes\\)\n# mode: both\n' > "$G/g-suite-too-big.conf"
truncate -s 17M "$G/g-suite-too-big.conf"
truncate -s 2M "$G/big-devices.csv"
{ echo "$BASE"; printf '[devices]\nfile = %s\n' "$G/big-devices.csv"; } |
  gcase g-devices-too-big "key 'devices.file': .*big-devices.csv: file is larger than 1 MiB \(2097152 bytes\)" "mode: both"

# special files inside a dataset directory (data.path is a directory): the file the
# loader opens is a FIFO, a link to /dev/zero, or a directory
for ds in "cifar10 data_batch_1.bin" "cifar100 train.bin"; do
  set -- $ds
  for kind in fifo devzero dir; do
    n=g-dataset-$1-$kind; mkdir -p "$G/$n"
    case $kind in
      fifo) mkfifo "$G/$n/$2"; it='a FIFO' ;;
      devzero) ln -s /dev/zero "$G/$n/$2"; it='a character device' ;;
      dir) mkdir "$G/$n/$2"; it='a directory' ;;
    esac
    printf '%s\n' "$BASE" | sed "s|^dataset = synthetic|dataset = $1\npath = $G/$n|; /^synthetic_devices/d; s/^partition = natural/partition = iid/" |
      gcase "$n" "$n.conf:[0-9]+: key 'data.path': $G/$n/${2//./\\.}: not a regular file \\(it is $it\\)" "mode: run"
  done
done
if [ -f "$FM/train-images-idx3-ubyte.gz" ]; then
  for kind in fifo devzero dir; do
    n=g-dataset-fmnist-$kind; mkdir -p "$G/$n"
    for f in train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do ln -s "$FM/$f.gz" "$G/$n/$f.gz"; done
    f=$G/$n/train-images-idx3-ubyte.gz
    case $kind in
      fifo) mkfifo "$f"; it='a FIFO' ;;
      devzero) ln -s /dev/zero "$f"; it='a character device' ;;
      dir) mkdir "$f"; it='a directory' ;;
    esac
    printf '%s\n' "$BASE" | sed "s|^dataset = synthetic|dataset = fashion-mnist\npath = $G/$n|; /^synthetic_devices/d; s/^partition = natural/partition = iid/" |
      gcase "$n" "$n.conf:[0-9]+: key 'data.path': ${f//./\\.}: not a regular file \\(it is $it\\)" "mode: run"
  done
fi
# --resume with a suite, seed or --set that differs from the run that made the file:
# refused (exit 2) naming the file, which stays as it was (checked at the end)
echo "$BASE" > "$G/prev.suite"  # not *.conf: not a case
"$HETFL" run "$G/prev.suite" --quiet -o "$G/prev.h5" --set run.checkpoint_every=1 > /dev/null 2>&1
cp "$G/prev.h5" "$G/prev.orig"
rmsg="^hetfl: $G/prev\\.h5: cannot resume: this suite/seed/variant differs from the run that made the file:\$"
echo "$BASE" | gcase g-resume-other-seed "$rmsg" "mode: run" "args: @S@ --resume $G/prev.h5 --seed 9"
echo "$BASE" | gcase g-resume-other-mode "$rmsg" "mode: run" "args: @S@ --resume $G/prev.h5 --set federation.mode=async"
echo "$BASE" | gcase g-resume-other-strategy "$rmsg" "mode: run" \
  "args: @S@ --resume $G/prev.h5 --set federation.strategy=fedprox"
small_suite 3 | gcase g-resume-other-rounds "$rmsg" "mode: run" "args: @S@ --resume $G/prev.h5"

cases=("$D"/*.conf "$G"/*.conf)
if [ -n "${BAD_INPUTS_ONLY:-}" ]; then  # a subset while working on it: BAD_INPUTS_ONLY='g-special-*'
  sel=(); for s in "${cases[@]}"; do case $(basename "$s") in $BAD_INPUTS_ONLY) sel+=("$s") ;; esac; done
  cases=("${sel[@]}")
fi
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
check "the file given to the refused --resume cases is untouched" cmp -s "$G/prev.h5" "$G/prev.orig"
[ -n "${BAD_INPUTS_ONLY:-}" ] ||
  check "the catalogue has at least 200 cases (${#cases[@]})" test ${#cases[@]} -ge 200
finish
