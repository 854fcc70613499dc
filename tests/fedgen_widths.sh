#!/usr/bin/env bash
# FedGen with mixed widths (fedgen.levels, src/strategies/fedgen.c on hetero.c),
# tiny.conf made non-IID (Dirichlet 0.3: unequal client sizes and label mixes),
# generator Z = 8, H = 16, the 784-32-10 MLP; a1-c1 = clients 0-9 width 1,
# 10-19 width 1/4 (8 hidden units):
#  - width 1 through the sub-model path: a99-c1 puts all 20 clients at width 1
#    (quotas 19.8 + 0.2 -> 20 + 0) but trains every one through hetero.c with
#    the regulariser as its gradient term; /rounds, /participation and the
#    model equal fedgen.levels = a (the engine's SGD with grad_hook) bit for bit;
#    on the MLP and on the CNN;
#  - alpha = 0 with a1-c1 is FjORD with tiers 0.25 and 1 always at p_max
#    (pmax_prob 1: fixed widths, n_k-weighted masked averaging, no regulariser):
#    model, /rounds accuracy and losses and /rounds_by_width bit for bit
#    (independent code: fjord's per-minibatch width path);
#  - bytes by hand: a width-1/4 client moves 784*8+8+8*10+10 = 6370 floats =
#    25480 bytes each way; uploads + 40 bytes of label counts; from round 2 on
#    downloads + G (848 floats) and p-hat (10 floats) = 3432 bytes;
#  - the regulariser's FLOPs for a narrow head (8 inputs): compute_s_model of
#    a width-1/4 client is alpha=0's x (0.25 + 32*(2*16*9 + 2*32*16 + 6*10*8) /
#    2439168) / 0.25, of a width-1 client x (1 + 103424/2439168), from round 2;
#  - 1/2/3 ranks bitwise; SIGTERM + --resume on 2 ranks bitwise;
#  - bad input: fedgen.levels = x, an upload codec, the update attack.
. "$(dirname "$0")/lib.sh"
skip_if_sanitized
need_fmnist
S=$HETFL_SRCDIR/tests/data/tiny.conf
B=(--set data.partition=dirichlet --set data.alpha=0.3 --set federation.rounds=4)
G=("${B[@]}" --set federation.strategy=fedgen --set fedgen.hidden=16 --set fedgen.noise_dim=8)
run1() { local o=$1; shift; "$HETFL" run "$S" --quiet -o "$TMP/$o.h5" "$@" > "$TMP/$o.log" 2>&1; }
same_tables() {  # A B TABLE...: h5diff of each table, bit for bit
  local a=$1 b=$2 t; shift 2
  for t in "$@"; do h5diff "$a" "$b" "$t" "$t" > /dev/null 2>&1 || return 1; done
}

run1 one "${G[@]}"
run1 w99 "${G[@]}" --set fedgen.levels=a99-c1
same_run() {  # the model and every simulated column of /rounds and /participation
  same_tables "$1" "$2" /model/final &&
    diff <(cols -x "$1" /rounds test_accuracy test_loss train_loss sim_time_s bytes_up bytes_down energy_j) \
         <(cols -x "$2" /rounds test_accuracy test_loss train_loss sim_time_s bytes_up bytes_down energy_j) > /dev/null &&
    diff <(cols -x "$1" /participation round client width steps local_loss compute_s_model comm_s bytes_up energy_j) \
         <(cols -x "$2" /participation round client width steps local_loss compute_s_model comm_s bytes_up energy_j) > /dev/null
}
check "a99-c1 (every client width 1, through hetero.c) = levels a (engine SGD), bitwise" \
  same_run "$TMP/one.h5" "$TMP/w99.h5"
CNN=(--set model.arch=cnn --set model.hidden=4,8,32 --set federation.rounds=3)
run1 cnn "${G[@]}" "${CNN[@]}"
run1 cnn99 "${G[@]}" "${CNN[@]}" --set fedgen.levels=a99-c1
check "CNN (head: the output layer on fc's 32 units): a99-c1 = levels a, bitwise" same_run "$TMP/cnn.h5" "$TMP/cnn99.h5"
check "a99-c1: /rounds_by_width has widths 1 and 0.25" \
  test "$(col "$TMP/w99.h5" /rounds_by_width width | sort -u | tr '\n' ' ')" = "0.25 1 "

run1 g0 "${G[@]}" --set fedgen.levels=a1-c1 --set fedgen.alpha=0
run1 fj "${B[@]}" --set federation.strategy=fjord --set fjord.widths=0.25,1 --set fjord.tiers=1,1 \
  --set fjord.pmax_prob=1
check "a1-c1, alpha 0 = fjord 0.25/1 at p_max: model, /rounds_by_width bitwise" \
  same_tables "$TMP/g0.h5" "$TMP/fj.h5" /model/final /rounds_by_width
check "a1-c1, alpha 0 = fjord: /rounds accuracy and losses bitwise" \
  diff <(cols -x "$TMP/g0.h5" /rounds test_accuracy test_loss train_loss) \
       <(cols -x "$TMP/fj.h5" /rounds test_accuracy test_loss train_loss)

# the mixed-width run, checkpointed every round (the determinism and resume checks below)
D=("${G[@]}" --set fedgen.levels=a1-c1 --set run.checkpoint_every=1)
run1 g1 "${D[@]}"
check "a1-c1, alpha 10: the regulariser changes the model (differs from alpha 0 by > 1e-4)" \
  bash -c "! h5diff -d 1e-4 '$TMP/g0.h5' '$TMP/g1.h5' /model/final /model/final > /dev/null 2>&1"
bytes_ok() {  # every record: width, bytes by hand; /rounds.bytes_down = 7 clients' sum
  cols "$TMP/g1.h5" /participation round client width bytes_up | awk '
    { model = $3 == 1 ? 101800 : 25480
      if (($3 == 1) != ($2 < 10) || $4 != model + 40) { bad = 1; print } n++ }
    END { exit bad || n != 28 }' || return 1
  paste -d' ' <(cols "$TMP/g1.h5" /participation round width) <(cols "$TMP/g0.h5" /participation width) |
    awk '$2 != $3 { exit 1 }' || return 1
  cols "$TMP/g1.h5" /participation round width | awk '
    { d[$1] += ($2 == 1 ? 101800 : 25480) + ($1 > 1 ? 3432 : 0) } END { for (r = 1; r <= 4; r++) print d[r] }' |
    diff - <(col "$TMP/g1.h5" /rounds bytes_down) > /dev/null
}
check "bytes by hand: sub-model + 40 up; sub-model (+ G and p-hat from round 2) down" bytes_ok
priced() {
  paste -d' ' <(cols -x "$TMP/g0.h5" /participation round width compute_s_model) \
              <(cols -x "$TMP/g1.h5" /participation compute_s_model) |
    awk '{ f = $2 == 1 ? 1 + 103424 / 2439168 : (0.25 + 57344 / 2439168) / 0.25
           want = $1 == 1 ? $3 : $3 * f; d = $4 - want
           if (d < 0) d = -d; if (d > 1e-12 * want) { bad = 1; print } n++ } END { exit bad || n != 28 }'
}
check "regulariser FLOPs of a narrow head priced: width 1/4 x (0.25 + 57344/2439168)/0.25 from round 2" priced

# determinism and resume (G trained after round 1, regularised from round 2)
# 10 rounds, so that SIGTERM after round 2 lands mid-run on a fast machine too
D=("${D[@]}" --set federation.rounds=10)
run1 d1 "${D[@]}"
run_mpi 2 run "$S" --quiet -o "$TMP/d2.h5" "${D[@]}" > /dev/null 2>&1
check "a1-c1: 2 ranks = 1 rank" "$HETFL" compare "$TMP/d1.h5" "$TMP/d2.h5"
run_mpi 3 run "$S" --quiet -o "$TMP/d3.h5" "${D[@]}" --set aggregation.topology=allreduce > /dev/null 2>&1
check "a1-c1: 3 ranks, allreduce = 1 rank" "$HETFL" compare "$TMP/d1.h5" "$TMP/d3.h5"
"$HETFL" run "$S" -o "$TMP/term.h5" "${D[@]}" > "$TMP/term.log" 2>&1 & pid=$!
wait_round 2 "$TMP/term.log"
kill -TERM $pid; wait $pid; rc=$?
check "a1-c1: SIGTERM: exit 3 (got $rc)" test $rc = 3
run_mpi 2 run "$S" --quiet --resume "$TMP/term.h5" "${D[@]}" > "$TMP/resume.log" 2>&1
check "a1-c1: resume on 2 ranks: exit 0" test $? = 0
check "a1-c1: resumed run = uninterrupted run" "$HETFL" compare "$TMP/d1.h5" "$TMP/term.h5"

refused() {  # LEVELS KEY SECTION VALUE LINE [WANTKEY]: exit 2, "FILE:LINE: key 'WANTKEY'" (default KEY)
  printf '[federation]\nstrategy = fedgen\n[fedgen]\nlevels = %s\n[%s]\n%s = %s\n' "$1" "$3" "${2#*.}" "$4" \
    > "$TMP/bad.conf"
  "$HETFL" run "$TMP/bad.conf" --quiet -o "$TMP/bad.h5" > "$TMP/bad.log" 2>&1
  local rc=$?
  [ $rc = 2 ] && grep -q "bad.conf:$5: key '${6:-$2}'" "$TMP/bad.log" && [ ! -e "$TMP/bad.h5" ]
}
check "fedgen.levels = a-x: exit 2, FILE:LINE" refused a-x fedgen.alpha fedgen 1 4 fedgen.levels
check "fedgen.levels = a-c with energy.compress = qsgd: exit 2" refused a-c energy.compress energy qsgd 6
check "fedgen.levels = a-c with privacy.attack = update: exit 2" refused a-c privacy.attack privacy update 6
check "fedgen.levels = a (one width) with privacy.attack = update: accepted" \
  bash -c "printf '[federation]\nstrategy = fedgen\n[privacy]\nattack = update\n' > '$TMP/ok.conf' &&
           '$HETFL' validate '$TMP/ok.conf' > /dev/null 2>&1"
finish
