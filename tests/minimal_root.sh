#!/usr/bin/env bash
# tests/minimal_root.sh — the README's Quick start on a minimal Debian 12, as a
# new user would meet it.  CI runs it (.ci/run); make check does not (it needs
# root and the Debian mirror, and takes about half an hour on two busy cores:
# 28 min measured, of which ./bootstrap 6.5 and ./bootstrap check 21; building
# the cached root took 1 min more).
#
#  1. a minimal Debian 12 root: `debootstrap --variant=minbase bookworm` plus git
#     (plus ca-certificates when the mirror is https), from the Debian mirror in
#     this machine's apt configuration.  Built once and cached as a tarball in
#     $HETFL_MINROOT_CACHE (/var/cache/hetfl-minroot), rebuilt when older than 30
#     days or when the recipe changes; a run never modifies it.
#  2. per run, a scratch copy of it (under $TMPDIR or /var/tmp) holding a clean
#     `git clone` of this repository's HEAD commit in /root/hetfl (uncommitted
#     changes are not part of it; ../shared/data is absent, so the tests that
#     use it must skip), with the host's Debian sources and the apt settings
#     that reach them (proxies, Check-Valid-Until), and proc, sys, /dev,
#     /dev/pts and a fresh /dev/shm (Open MPI needs it) mounted.
#  3. as root in that root, in a login shell with an empty environment, the
#     README's two commands:  ./bootstrap   then   ./bootstrap check
#
# Exit 0: both passed; 1: either failed (or the root could not be built);
# 77: cannot run here (not root, no debootstrap, mirror unreachable, no mounts),
# with the reason.  It ends with one line "minimal-root: P passed, F failed".
# Mounts, processes left in the root and the scratch copy are removed on every
# exit; the whole run also sits in a private mount namespace (unshare), so even a
# SIGKILL leaves no mount behind.
#
# Environment: HETFL_MINROOT_CACHE (above); HETFL_MINROOT_LOG (./minimal-root.log:
# all the two commands printed, and the root's test-suite.log beside it as
# minimal-root-test-suite.log); HETFL_MINROOT_TIMEOUT (1800: seconds per command).
set -uo pipefail
say() { echo "minimal-root: $*"; }
skip() { say "SKIP: $*"; exit 77; }
fail() { say "FAIL: $*"; say "0 passed, 2 failed"; exit 1; }
now() { date +%s; }
dur() { local s=$(( $(now) - $1 )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
t_start=$(now)

src=$(cd "$(dirname "$0")/.." && pwd -P)
[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, chroot, mounts)"
command -v git > /dev/null && sha=$(git -C "$src" rev-parse --verify -q HEAD) ||
  skip "$src is not a git checkout (git clone of HEAD is what is tested)"

# A private mount namespace: the mounts below are invisible to the rest of the
# machine and disappear with this process whatever happens to it.
if [ -z "${HETFL_MINROOT_NS:-}" ] && command -v unshare > /dev/null &&
   unshare --mount --propagation private true 2> /dev/null; then
  HETFL_MINROOT_NS=1 exec unshare --mount --propagation private "$BASH" "$0" "$@"
fi

cache=${HETFL_MINROOT_CACHE:-/var/cache/hetfl-minroot}
log=${HETFL_MINROOT_LOG:-$PWD/minimal-root.log}
limit=${HETFL_MINROOT_TIMEOUT:-1800}
suite=bookworm

# ------------------------------------------------------------ cleanup -------
scratch=()   # directories to remove on exit (after unmounting what is under them)
child=       # the command running now, in the background (so signals reach us)
under() {  # mount points at or under DIR, the last mounted first
  awk -v d="$1" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | tac
}
kill_in() {  # kill every process whose root directory is DIR (ones this script started there)
  local sig p pids
  for sig in TERM KILL; do
    pids=()
    for p in /proc/[0-9]*; do
      [ "$(readlink "$p/root" 2> /dev/null)" = "$1" ] && pids+=("${p#/proc/}")
    done
    ((${#pids[@]})) || return 0
    say "stopping ${#pids[@]} process(es) left in $1 (SIG$sig)"
    kill -s "$sig" "${pids[@]}" 2> /dev/null; sleep 2
  done
}
cleanup() {
  local d m
  trap - EXIT INT TERM HUP
  exec >&3 2>&4  # this script's own output, also when a signal came during a redirected command
  [ -n "$child" ] && kill "$child" 2> /dev/null
  for d in "${scratch[@]}"; do [ -d "$d/root" ] && kill_in "$d/root"; done
  [ -n "$child" ] && wait "$child" 2> /dev/null
  for d in "${scratch[@]}"; do
    [ -d "$d" ] || continue
    for m in $(under "$d"); do
      umount "$m" 2> /dev/null || umount -l "$m" || say "warning: cannot unmount $m"
    done
    if [ -n "$(under "$d")" ]; then
      say "warning: mounts remain under $d; not removing it"
    else
      rm -rf --one-file-system "$d"
    fi
  done
}
exec 3>&1 4>&2
trap cleanup EXIT
trap 'say "interrupted" >&3; exit 130' INT
trap 'say "terminated" >&3; exit 143' TERM HUP
run_bg() {  # COMMAND...: run in the background and wait, so that INT/TERM are handled at once
  "$@" 3>&- 4>&- & child=$!
  wait "$child"; local rc=$?
  child=
  return $rc
}

# ------------------------------------------------- mirror and debootstrap ---
# The Debian 12 sources apt uses here, whatever their format (sources.list,
# deb822 .sources): ask apt which index files it would fetch, into an empty
# lists directory so that it lists them all.
lists=$(mktemp -d) && mkdir "$lists/partial" && scratch+=("$lists")
mapfile -t sources < <(apt-get -o Dir::State::Lists="$lists" --print-uris update 2> /dev/null |
  sed -nE "s#^'(.*)/dists/($suite(-updates|-security)?)/main/binary-[a-z0-9]+/Packages[^']*'.*#\\1 \\2#p" |
  sort -u)
mirror=$(printf '%s\n' "${sources[@]}" | awk -v s="$suite" '$2 == s && !m { print $1; m = 1 }')
[ -n "$mirror" ] || skip "no Debian 12 ($suite main) source in this machine's apt configuration"
say "mirror $mirror; sources: $(printf '%s\n' "${sources[@]}" | awk '{ print $2 }' | paste -sd' ')"

# apt's proxy reaches debootstrap (wget) and apt inside the root through the
# environment; the apt settings themselves are copied into the root below
for s in http https; do
  v=${s}_proxy
  if [ -z "${!v:-}" ]; then
    p=; eval "$(apt-config shell p "Acquire::$s::Proxy" 2> /dev/null)"
    [ -n "$p" ] && [ "$p" != DIRECT ] && export "$v=$p"
  fi
done
proxy_env=()
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [ -n "${!v:-}" ] && proxy_env+=("$v=${!v}")
done

if ! command -v debootstrap > /dev/null && [ ! -x /usr/sbin/debootstrap ]; then
  say "installing debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -qq --no-install-recommends debootstrap > /dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends debootstrap > /dev/null; }; } ||
    skip "debootstrap is not installed and cannot be (apt-get install debootstrap)"
fi
export PATH=$PATH:/usr/sbin:/sbin
wget -q -T 20 -t 2 -O /dev/null "$mirror/dists/$suite/InRelease" ||
  skip "the mirror $mirror is unreachable"

# ----------------------------------------------------- the cached root ------
t=$(now)
include=git
case $mirror in https:*) include+=,ca-certificates ;; esac
arch=$(dpkg --print-architecture)
recipe="debootstrap --variant=minbase --include=$include --arch=$arch $suite $mirror"
tarball=$cache/root.tar.gz
fresh() { [ -f "$tarball" ] && [ "$(cat "$cache/recipe" 2> /dev/null)" = "$recipe" ] &&
          [ -z "$(find "$tarball" -mtime +30)" ]; }
if fresh; then
  say "cached root $tarball ($(du -h "$tarball" | cut -f1), built $(date -r "$tarball" '+%F %H:%M'))"
else
  mkdir -p "$cache" || fail "cannot create $cache"
  exec 9> "$cache/lock"
  flock 9  # one build at a time; who waited finds it built
  if fresh; then
    say "cached root built meanwhile by another run"
  else
    new=$(mktemp -d "$cache/build.XXXXXX") && scratch+=("$new")
    say "building the root: $recipe (log: $cache/debootstrap.log)"
    run_bg debootstrap --variant=minbase --include="$include" --arch="$arch" \
      "$suite" "$new/root" "$mirror" > "$cache/debootstrap.log" 2>&1 ||
      { tail -30 "$cache/debootstrap.log"; fail "debootstrap failed (log: $cache/debootstrap.log)"; }
    rm -rf "$new/root/var/cache/apt/archives/"*.deb "$new/root/var/lib/apt/lists/"*_*
    tar -C "$new/root" --numeric-owner -czf "$new/root.tar.gz" . || fail "cannot pack the root"
    echo "$recipe" > "$new/recipe" && mv "$new/recipe" "$cache/recipe" && mv "$new/root.tar.gz" "$tarball" ||
      fail "cannot store the root in $cache"
    say "root built and cached ($(du -h "$tarball" | cut -f1))"
  fi
  exec 9>&-
fi
say "phase cache: $(dur "$t")"

# ------------------------------------------------ this run's copy of it -----
t=$(now)
base=${TMPDIR:-/var/tmp}
work=$(mktemp -d "$base/hetfl-minroot.XXXXXX") || fail "cannot make a scratch directory in $base"
work=$(cd "$work" && pwd -P) && scratch+=("$work")
root=$work/root
mkdir "$root" && tar -C "$root" --numeric-owner -xzf "$tarball" || fail "cannot unpack $tarball"
for s in "${sources[@]}"; do echo "deb $s main"; done > "$root/etc/apt/sources.list"
rm -f "$root/etc/apt/sources.list.d/"*
apt-config dump 2> /dev/null | grep -E '^Acquire::((https?|ftp)::Proxy|Check-Valid-Until|Check-Date|ForceIPv[46])( |::)' \
  > "$root/etc/apt/apt.conf.d/99host-mirror"
[ -f /etc/resolv.conf ] && cp -L /etc/resolv.conf "$root/etc/resolv.conf"
dirty=$(git -C "$src" status --porcelain --untracked-files=no 2> /dev/null | sed -n 1p)
git clone -q --no-checkout "$src" "$root/root/hetfl" &&
  git -C "$root/root/hetfl" fetch -q "$src" "$sha" &&
  git -C "$root/root/hetfl" checkout -q --detach "$sha" || fail "cannot clone $src at $sha"
say "commit $(git -C "$src" log -1 --format='%h %s' "$sha" | cut -c1-90)"
[ -n "$dirty" ] && say "note: $src has uncommitted changes; they are not part of what is tested"
[ -e "$root/root/shared" ] && fail "$root/root/shared exists: ../shared must be absent"
mnt() { mount "$@" 2> "$work/mount.err" || { cat "$work/mount.err"; skip "cannot mount ${*: -1} (needs CAP_SYS_ADMIN)"; }; }
mnt -t proc proc "$root/proc"
mnt -t sysfs sysfs "$root/sys"
mnt --bind /dev "$root/dev"
mnt --bind /dev/pts "$root/dev/pts"
mnt -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
say "phase unpack+clone: $(dur "$t")"

# ------------------------------------------------ the README's commands -----
: > "$log"
passed=0 failed=0
in_root() {  # COMMAND: as root in a login shell in ~/hetfl, with an empty environment
  exec timeout -k 30 "$limit" chroot "$root" /usr/bin/env -i HOME=/root USER=root LOGNAME=root \
    SHELL=/bin/bash TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    "${proxy_env[@]}" /bin/bash -lc "cd ~/hetfl && $1"
}
for cmd in ./bootstrap "./bootstrap check"; do
  t=$(now)
  echo "===== $cmd" >> "$log"
  run_bg in_root "$cmd" > "$work/out" 2>&1; rc=$?
  cat "$work/out" >> "$log"
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$work/out" | tail -1)
  if [ $rc = 0 ]; then
    passed=$((passed + 1))
    say "ok: $cmd${summary:+ ($summary)} in $(dur "$t")"
  else
    failed=$((failed + 1))
    [ $rc = 124 ] && say "$cmd ran past ${limit} s"
    echo "----- the last lines of $cmd:"; tail -40 "$work/out"; echo "-----"
    say "FAILED: $cmd (exit $rc)${summary:+ ($summary)} in $(dur "$t")"
  fi
done
tsl=$root/root/hetfl/tests/test-suite.log; [ -f "$tsl" ] || tsl=$root/root/hetfl/test-suite.log
if [ -f "$tsl" ]; then
  cp "$tsl" "${log%.log}-test-suite.log"
  # each test that did not pass, and for a skipped one the reason it gave
  # (a section starts with "SKIP: tests/x.sh" over a line of '='; a skip reason
  # is a "SKIP: " line that is not followed by one)
  awk '/^=+$/ && prev ~ /^(SKIP|FAIL|ERROR|XPASS): / { sec = prev; print "  " sec; prev = ""; next }
       sec ~ /^SKIP/ && prev ~ /^SKIP: / { print "      " prev } { prev = $0 }' "$tsl"
  if [ $failed != 0 ]; then
    echo "----- failed tests (from the root's test-suite.log):"
    awk '/^(FAIL|ERROR): /{ p = 1 } /^(SKIP|PASS): /{ p = 0 } p && n++ < 300' "$tsl"
  fi
fi
say "log: $log; total $(dur "$t_start")"
say "$passed passed, $failed failed"
[ $failed = 0 ]
