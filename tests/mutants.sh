#!/usr/bin/env bash
# tests/mutants.sh — mutation testing: does the test suite catch small, plausible bugs?
#
#   tests/mutants.sh [options] [ID...]    run the mutants of tests/mutants.txt (all, or the IDs)
#     -l, --list        list the mutants (ID, file, function, tests, description) and exit
#     -c, --check       only check that every mutant still applies to the code (no build; seconds)
#     -d, --diff        like --check, and print each mutant's edit as a diff
#     -p, --pending     also run the mutants marked 'pending' (see tests/mutants.txt)
#     -w, --work DIR    scratch directory (default: a new one under $TMPDIR, removed at the end);
#                       an existing configured DIR is refreshed and reused (no configure run)
#     -k, --keep        keep the scratch directory
#     -j N              make jobs (default 2)
#     -t SECONDS        time limit of one mutant's tests (default 1200)
#     --min SCORE       exit 1 when the score (%) is below SCORE (default 90)
#
# Each mutant is one textual edit anchored in a named function ("in function
# hf_agg_add of src/engine/agg.c replace the first X with Y"), so it keeps applying
# while code moves inside a file.  The script copies the working tree (tracked and
# untracked, not ignored, files) to the scratch directory, configures it once,
# checks that the mutants' tests pass there unmutated, then for each mutant: applies
# the edit, rebuilds incrementally (the library, hetfl, and the test programs it
# runs), runs the mutant's tests with `make check-TESTS TESTS=...` and restores the
# file.  A mutant is killed when a test fails (or runs past the time limit),
# survives when all pass.
#
# Exit status: 0 when the score reaches --min; 1 below it; 2 when a mutant no longer
# applies (its function or text is gone: update tests/mutants.txt), does not compile,
# or the tests fail without any mutant.  Not part of `make check`: `make mutants` runs it.
# Cost: one to two minutes a mutant on 2 cores, mostly the rebuild (make mutants runs
# it at nice 19; docs/testing.md has more).
set -u
# The whole script is one function, read before it runs: editing this file while a
# run is going on does not disturb that run.
main() {
here=$(cd "$(dirname "$0")/.." && pwd)
list=$here/tests/mutants.txt
mode=run diff=0 pending=0 work= keep=0 jobs=2 tlimit=1200 min=90
ids=()
usage() { sed -n '2,30p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
  -l|--list) mode=list ;;
  -c|--check) mode=check ;;
  -d|--diff) mode=check diff=1 ;;
  -p|--pending) pending=1 ;;
  -w|--work) work=${2:?}; shift ;;
  -k|--keep) keep=1 ;;
  -j) jobs=${2:?}; shift ;;
  -t) tlimit=${2:?}; shift ;;
  --min) min=${2:?}; shift ;;
  -h|--help) usage ;;
  -*) echo "mutants.sh: unknown option $1" >&2; usage ;;
  *) ids+=("$1") ;;
  esac
  shift
done

# ------------------------------------------------------------ the list ---
# Records of "key value" lines; a record starts with "mutant ID" or "pending ID".
M_ID=() M_STATE=() M_FILE=() M_FUNC=() M_FROM=() M_TO=() M_NTH=() M_TESTS=() M_WHAT=() M_ENV=()
parse_list() {
  local line key val n=-1 ln=0
  while IFS= read -r line || [ -n "$line" ]; do
    ln=$((ln + 1))
    case $line in ''|'#'*) continue ;; esac
    line=${line#"${line%%[![:space:]]*}"}
    key=${line%%[[:space:]]*}
    val=${line#"$key"}
    val=${val#"${val%%[![:space:]]*}"}
    case $key in
    mutant|pending)
      n=$((n + 1))
      M_ID[n]=$val M_STATE[n]=$key M_FILE[n]= M_FUNC[n]= M_FROM[n]= M_TO[n]= M_NTH[n]=1 M_TESTS[n]= M_WHAT[n]= M_ENV[n]=
      M_TOSET[n]=0 ;;
    file|func|from|to|nth|tests|what|env)
      [ $n -ge 0 ] || { echo "$list:$ln: '$key' before the first 'mutant ID'" >&2; exit 2; }
      case $key in
      file) M_FILE[n]=$val ;; func) M_FUNC[n]=$val ;; from) M_FROM[n]=$val ;;
      to) M_TO[n]=$val; M_TOSET[n]=1 ;; nth) M_NTH[n]=$val ;; tests) M_TESTS[n]=$val ;;
      what) M_WHAT[n]=$val ;; env) M_ENV[n]=$val ;;
      esac ;;
    *) echo "$list:$ln: unknown key '$key'" >&2; exit 2 ;;
    esac
  done < "$list"
  local i
  for i in "${!M_ID[@]}"; do
    for key in FILE FUNC FROM TESTS WHAT; do
      local -n arr=M_$key
      [ -n "${arr[i]}" ] || { echo "$list: mutant ${M_ID[i]}: no '${key,,}'" >&2; exit 2; }
    done
    [ "${M_TOSET[i]}" = 1 ] || { echo "$list: mutant ${M_ID[i]}: no 'to'" >&2; exit 2; }
    for j in "${!M_ID[@]}"; do
      [ "$j" -lt "$i" ] && [ "${M_ID[j]}" = "${M_ID[i]}" ] && { echo "$list: mutant ${M_ID[i]} listed twice" >&2; exit 2; }
    done
  done
}
M_TOSET=()
parse_list

# the mutants to run: the IDs given, else every active one (and pending ones with -p)
sel=()
if [ ${#ids[@]} -gt 0 ]; then
  for id in "${ids[@]}"; do
    found=
    for i in "${!M_ID[@]}"; do [ "${M_ID[i]}" = "$id" ] && found=$i; done
    [ -n "$found" ] || { echo "mutants.sh: no mutant '$id' in $list" >&2; exit 2; }
    sel+=("$found")
  done
else
  for i in "${!M_ID[@]}"; do
    [ "${M_STATE[i]}" = mutant ] || [ $pending = 1 ] && sel+=("$i")
  done
fi

if [ $mode = list ]; then
  for i in "${!M_ID[@]}"; do
    printf '%-8s %-24s %s: %s\n         %s\n         tests: %s%s\n' "${M_STATE[i]}" "${M_ID[i]}" \
      "${M_FILE[i]}" "${M_FUNC[i]}" "${M_WHAT[i]}" "${M_TESTS[i]}" "${M_ENV[i]:+ (${M_ENV[i]})}"
  done
  echo "$(printf '%s\n' "${M_STATE[@]}" | grep -c '^mutant$') active, $(printf '%s\n' "${M_STATE[@]}" | grep -c '^pending$') pending"
  exit 0
fi

# ------------------------------------------------------ applying one edit ---
# apply_mutant SRC_ROOT DST_ROOT I: write mutant I's file of SRC_ROOT, edited, into DST_ROOT.
# Finds the definition of the function (a line starting at column 0 with NAME( or TYPE NAME(,
# or TYPE FN(NAME)( in a header that names its functions by macro, whose
# parameter list is followed by a body), its body by brace matching (strings, character
# constants and comments skipped), and replaces the nth occurrence of 'from' in it.
apply_mutant() {
  local src=$1 dst=$2 i=$3
  MUT_FUNC=${M_FUNC[i]} MUT_FROM=${M_FROM[i]} MUT_TO=${M_TO[i]} MUT_NTH=${M_NTH[i]} \
  perl -e '
    use strict; use warnings;
    my ($in, $out) = @ARGV;
    my ($func, $from, $to, $nth) = @ENV{qw(MUT_FUNC MUT_FROM MUT_TO MUT_NTH)};
    open(my $fh, "<", $in) or die "cannot read $in: $!\n";
    local $/; my $s = <$fh>; close $fh;
    # the end (index after the closing char) of the bracketed span opening at $i
    sub span_end {
      my ($s, $i, $open, $close) = @_;
      my $d = 0; my $n = length $s;
      while ($i < $n) {
        my $c = substr($s, $i, 1);
        if ($c eq "/" && substr($s, $i, 2) eq "/*") { my $e = index($s, "*/", $i + 2); return -1 if $e < 0; $i = $e + 2; next; }
        if ($c eq "/" && substr($s, $i, 2) eq "//") { my $e = index($s, "\n", $i); $i = $e < 0 ? $n : $e; next; }
        if ($c eq "\"" || $c eq "\x27") {
          my $j = $i + 1;
          while ($j < $n && substr($s, $j, 1) ne $c) { $j += substr($s, $j, 1) eq "\\" ? 2 : 1; }
          $i = $j + 1; next;
        }
        $d++ if $c eq $open;
        if ($c eq $close) { $d--; return $i + 1 if $d == 0; }
        $i++;
      }
      return -1;
    }
    my @bodies;
    while ($s =~ /^(?:[A-Za-z_][^;{}\n]*?\b)?\Q$func\E\)?[ \t]*\(/mg) {
      my $p = $+[0] - 1;
      my $pe = span_end($s, $p, "(", ")");
      next if $pe < 0;
      my $rest = substr($s, $pe);
      next unless $rest =~ /^\s*\{/;
      my $b = $pe + $+[0] - 1;
      my $be = span_end($s, $b, "{", "}");
      next if $be < 0;
      push @bodies, [$b, $be];
      pos($s) = $be;
    }
    die "function $func: no definition found\n" unless @bodies;
    die "function $func: defined " . scalar(@bodies) . " times\n" if @bodies > 1;
    my ($b, $be) = @{$bodies[0]};
    my $body = substr($s, $b, $be - $b);
    my ($at, $k) = (-1, 0);
    while ($k < $nth) { $at = index($body, $from, $at + 1); last if $at < 0; $k++; }
    die "function $func: text not found" . ($nth > 1 ? " (occurrence $nth)" : "") . ": $from\n" if $at < 0;
    substr($body, $at, length $from) = $to;
    substr($s, $b, $be - $b) = $body;
    open(my $oh, ">", $out) or die "cannot write $out: $!\n";
    print $oh $s; close $oh;
  ' "$src/${M_FILE[i]}" "$dst/${M_FILE[i]}"
}

if [ $mode = check ]; then
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/hetfl-mutcheck.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  bad=0
  for i in "${sel[@]}"; do
    mkdir -p "$tmp/$(dirname "${M_FILE[i]}")"
    if [ ! -f "$here/${M_FILE[i]}" ]; then
      echo "NO LONGER APPLIES ${M_ID[i]}: ${M_FILE[i]} does not exist"; bad=$((bad + 1)); continue
    fi
    if msg=$(apply_mutant "$here" "$tmp" "$i" 2>&1); then
      if cmp -s "$here/${M_FILE[i]}" "$tmp/${M_FILE[i]}"; then
        echo "NO-OP            ${M_ID[i]}: the edit changes nothing"; bad=$((bad + 1))
      else
        echo "applies          ${M_ID[i]}"
        [ $diff = 0 ] || diff -U1 --label "a/${M_FILE[i]}" --label "b/${M_FILE[i]}" \
          "$here/${M_FILE[i]}" "$tmp/${M_FILE[i]}" | sed 's/^/    /'
      fi
    else
      echo "NO LONGER APPLIES ${M_ID[i]} (${M_FILE[i]}): $msg"; bad=$((bad + 1))
    fi
  done
  echo "${#sel[@]} mutants checked, $bad do not apply"
  [ $bad = 0 ] || exit 2
  exit 0
fi

# ------------------------------------------------------- scratch build ---
command -v git > /dev/null && git -C "$here" rev-parse --git-dir > /dev/null 2>&1 ||
  { echo "mutants.sh: needs a git checkout of hetfl (the tracked and untracked files are copied)" >&2; exit 2; }
t_start=$(date +%s)
if [ -z "$work" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/hetfl-mutants.XXXXXX")
  [ $keep = 1 ] || trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work/tree" "$work/pristine"
log=$work/log
echo "mutants.sh: scratch tree $work/tree (logs in $log)"
copy_tree() {  # the working tree's files (tracked, and untracked but not ignored) into $1
  (cd "$here" && git ls-files -z --cached --others --exclude-standard |
     while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
     tar --null -T - -cf -) | tar -xf - -C "$1"
}
rm -rf "$work/pristine" && mkdir -p "$work/pristine"
copy_tree "$work/pristine" || { echo "mutants.sh: cannot copy the tree" >&2; exit 2; }
# refresh the scratch tree: files that differ from the pristine copy are replaced
# (new mtime, so make rebuilds them); build outputs stay
(cd "$work/pristine" && find . -type f) | while IFS= read -r f; do
  cmp -s "$work/pristine/$f" "$work/tree/$f" 2> /dev/null ||
    { mkdir -p "$work/tree/$(dirname "$f")"; cp "$work/pristine/$f" "$work/tree/$f"; }
done
cd "$work/tree" || exit 2
if [ ! -f config.status ]; then
  echo "mutants.sh: configuring (once)"
  { autoreconf -fi && ./configure; } > "$log.configure" 2>&1 ||
    { tail -20 "$log.configure"; echo "mutants.sh: configure failed ($log.configure)" >&2; exit 2; }
fi
# a mutant rebuilds the library and hetfl; `make check-TESTS` relinks only the test
# programs it runs
build() { make -j"$jobs" hetfl > "$1" 2>&1; }
echo "mutants.sh: building"
make -j"$jobs" check TESTS= > "$log.build" 2>&1 || { tail -30 "$log.build"; echo "mutants.sh: the unmutated tree does not build" >&2; exit 2; }

# every mutant's tests must exist and pass without mutants
known_tests=" $(make -s -f Makefile -f - print-tests <<'EOF' 2> /dev/null
print-tests: ; @echo $(TESTS)
EOF
) "
alltests=()
for i in "${sel[@]}"; do
  for t in ${M_TESTS[i]}; do
    case $known_tests in *" $t "*) ;; *) echo "mutants.sh: mutant ${M_ID[i]}: '$t' is not in make check's TESTS" >&2; exit 2 ;; esac
    case " ${alltests[*]} " in *" $t "*) ;; *) alltests+=("$t") ;; esac
  done
done
run_tests() {  # LOG [VAR=VALUE...] TESTS...: 0 all pass (or skip), 1 a failure, 124 time limit
  local out=$1 vars=(); shift
  while [ $# -gt 0 ] && [ "${1#*=}" != "$1" ]; do vars+=("$1"); shift; done
  timeout -k 30 "$tlimit" env "${vars[@]}" make check-TESTS TESTS="$*" > "$out" 2>&1
}
echo "mutants.sh: baseline: ${alltests[*]}"
t0=$(date +%s)
if ! run_tests "$log.baseline" "${alltests[@]}"; then
  grep -E '^(FAIL|ERROR)' "$log.baseline"
  echo "mutants.sh: the tests fail without any mutant ($log.baseline; test logs in $work/tree/tests)" >&2
  exit 2
fi
grep -E '^SKIP' "$log.baseline" | sed 's/^/mutants.sh: warning: baseline /'
echo "mutants.sh: baseline passes ($(( $(date +%s) - t0 )) s)"

# ------------------------------------------------------------- mutants ---
killed=() survived=() broken=()
n=${#sel[@]} c=0
for i in "${sel[@]}"; do
  c=$((c + 1))
  id=${M_ID[i]} f=${M_FILE[i]}
  t0=$(date +%s)
  if ! msg=$(apply_mutant "$work/pristine" "$work/tree" "$i" 2>&1); then
    printf '[%2d/%d] %-9s %-26s %s\n' $c "$n" "NO LONGER APPLIES" "$id" "$msg"
    broken+=("$id: no longer applies: $msg")
    continue
  fi
  if ! build "$log.$id.build"; then
    status="BROKEN" detail="does not compile ($log.$id.build)"
    broken+=("$id: does not compile")
  else
    # shellcheck disable=SC2086
    run_tests "$log.$id" ${M_ENV[i]} ${M_TESTS[i]}
    rc=$?
    if [ $rc = 0 ]; then
      status=survived detail=; survived+=("$i")
    else
      status=killed
      if [ $rc = 124 ] || [ $rc = 137 ]; then detail="time limit"
      else detail="by $(grep -E '^(FAIL|ERROR):' "$log.$id" | sed 's/^[A-Z]*: //' | tr '\n' ' ')"; fi
      killed+=("$i")
    fi
  fi
  printf '[%2d/%d] %-9s %-26s %4d s  %s\n' $c "$n" "$status" "$id" $(( $(date +%s) - t0 )) "$detail"
  # restore: the pristine file with a new mtime, so the next build recompiles it
  cp "$work/pristine/$f" "$work/tree/$f" && touch "$work/tree/$f"
done
build "$log.final" || true

nk=${#killed[@]} ns=${#survived[@]} nb=${#broken[@]}
total=$((nk + ns))
echo
echo "mutation score: $nk killed of $total = $(awk -v k=$nk -v t=$total 'BEGIN { printf "%.1f", t ? 100 * k / t : 0 }') %" \
     "($(( $(date +%s) - t_start )) s)"
if [ $ns -gt 0 ]; then
  echo "survivors:"
  for i in "${survived[@]}"; do echo "  ${M_ID[i]} (${M_FILE[i]}: ${M_FUNC[i]}): ${M_WHAT[i]}"; done
fi
if [ $nb -gt 0 ]; then
  echo "mutants to fix in $list:"
  printf '  %s\n' "${broken[@]}"
  exit 2
fi
awk -v k=$nk -v t=$total -v m="$min" 'BEGIN { exit !(t > 0 && 100 * k >= m * t) }'
}
main "$@"
exit $?
