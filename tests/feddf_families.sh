#!/usr/bin/env bash
# FedDF across model families and with out-of-distribution server data
# (feddf.group_models, feddf.server_data; src/strategies/feddf.c):
#  - the distillation against tests/feddf_reference.awk (double precision, from
#    the formulas): a LEAF toy (D = 2, C = 3), 2 clients that do not move
#    (federation.lr = 0), client 0 in group a (the run's logreg), client 1 in
#    group b (an MLP with 4 hidden units at width 1/2); the teacher is the mean
#    of both families' logits on the 4 server rows after data.train_samples, the
#    logreg student takes 2 Adam steps (lr 0.1, cosine, T = 2, one batch of 4);
#    its initial model (x0) from the run with feddf.steps = 0, the MLP's (m0)
#    from a FedAvg run of that MLP with lr 0 (the same seed's initialisation);
#  - feddf.val_samples = 0 keeps the last step (the key's help; it kept step 0);
#  - server data from another data set's file (feddf.server_data = file): the
#    same reference on the first 4 of the 6 inputs of a generic-layout HDF5
#    file (h5import), not the held-out rows; 3 rounds with training on 1/2/3
#    ranks and resumed from round 2's checkpoint on 2 ranks, bitwise; a file of
#    another input width and one with too few samples: exit 2, FILE:LINE: key;
#  - MLP + CNN groups on Fashion-MNIST with noise server data: 1/2/3 ranks
#    bitwise, SIGTERM + --resume on 2 ranks bitwise, /rounds_by_width rows for
#    both groups; the noise set needs no held-out rows (on the toy, heldout
#    is refused where noise is accepted);
#  - bad input (the toy's vectors): an lstm or cnn group, group a not the run's
#    model, a wrong entry count, an unknown architecture, a zero width: exit 2,
#    FILE:LINE: key, no results file.
. "$(dirname "$0")/lib.sh"
skip_if_sanitized
need_fmnist
printf '0 3 1.0 -0.5 0\n1 3 0.25 0.75 2\n2 1 0.8 0.4 1\n3 1 -0.6 1.2 0\n4 1 1.5 -1.0 2\n5 1 -0.3 -0.9 1\n' > "$TMP/rows"
leaf_json 2 < "$TMP/rows" > "$TMP/train.json"
printf '{"users": ["t"], "num_samples": [2], "user_data": {"t": {"x": [[1.0, 0.0], [0.0, 1.0]], "y": [0, 2]}}}\n' \
  > "$TMP/test.json"
cat > "$TMP/s.conf" <<EOS
[run]
seed = 11
[data]
dataset = leaf
path = $TMP/train.json
test_path = $TMP/test.json
partition = iid
train_samples = 6
[model]
arch = logreg
[federation]
strategy = feddf
clients = 2
clients_per_round = 2
rounds = 1
batch_size = 2
lr = 0
[feddf]
groups = a1-b1
group_models = -; mlp:4
server_samples = 4
val_samples = 0
steps = 2
batch_size = 4
lr = 0.1
temperature = 2
EOS
run() { local s=$1 o=$2; shift 2; "$HETFL" run "$s" --quiet -o "$TMP/$o.h5" "$@" > "$TMP/$o.log" 2>&1 ||
          { cat "$TMP/$o.log"; return 1; }; }
run "$TMP/s.conf" x0 --set feddf.steps=0
run "$TMP/s.conf" m0 --set federation.strategy=fedavg --set model.arch=mlp --set model.hidden=4
run "$TMP/s.conf" kd
{ model_values "$TMP/x0.h5" | awk '{ print "x0", NR - 1, $1 }'
  model_values "$TMP/m0.h5" | awk '{ print "m0", NR - 1, $1 }'
  awk 'NR > 2 { print "srv", $3, $4 }' "$TMP/rows"; } > "$TMP/ref.in"
awk -v D=2 -v C=3 -v H=4 -v T=2 -v lr=0.1 -v steps=2 -f "$HETFL_SRCDIR/tests/feddf_reference.awk" "$TMP/ref.in" \
  > "$TMP/ref.out"
check "logreg student distilled from logreg + MLP teacher = reference (2 Adam steps, T 2)" \
  model_matches "$TMP/kd.h5" "$TMP/ref.out" 1e-6
check "the distillation moved the student (the check above can fail)" \
  bash -c "! h5diff '$TMP/x0.h5' '$TMP/kd.h5' /model/final /model/final > /dev/null 2>&1"
check "val_samples = 0: /feddf best_step = the last step (2) for both groups" \
  test "$(col "$TMP/kd.h5" /feddf best_step | tr '\n' ' ')" = "2 2 "
# the toy's 10 rows: 6 for the clients, 4 after them; 5 noise samples need none of them
run "$TMP/s.conf" held5 --set feddf.server_samples=5 > /dev/null 2>&1
check "heldout: 5 server samples after the clients' 6 of 10 rows: exit 2" \
  grep -q "key 'feddf.server_samples': the clients hold the first 6 of 10" "$TMP/held5.log"
run "$TMP/s.conf" noise5 --set feddf.server_samples=5 --set feddf.server_data=noise
check "noise: 5 server samples, no held-out rows needed: runs, the student moves" \
  bash -c "! h5diff '$TMP/x0.h5' '$TMP/noise5.h5' /model/final /model/final > /dev/null 2>&1"

# another data set file as server data (feddf.server_data = file): the first 4 of
# the 6 inputs of a generic-layout HDF5 file (h5import); the 6th, (9, 9), would
# move the student if it were read; the labels are never read
h5file() {  # OUT ROWS COLS < VALUES: /inputs float32 (ROWS, COLS), /labels int32 (ROWS) of zeros
  cat > "$TMP/vals.txt"
  printf 'PATH inputs\nINPUT-CLASS TEXTFP\nRANK 2\nDIMENSION-SIZES %s %s\nOUTPUT-CLASS FP\nOUTPUT-SIZE 32\n' \
    "$2" "$3" > "$TMP/ci.txt"
  printf 'PATH labels\nINPUT-CLASS TEXTIN\nRANK 1\nDIMENSION-SIZES %s\nOUTPUT-CLASS IN\nOUTPUT-SIZE 32\n' \
    "$2" > "$TMP/cl.txt"
  awk -v n="$2" 'BEGIN { for (i = 0; i < n; i++) print 0 }' > "$TMP/lab.txt"
  rm -f "$1"
  h5import "$TMP/vals.txt" -c "$TMP/ci.txt" "$TMP/lab.txt" -c "$TMP/cl.txt" -o "$1" > /dev/null
}
printf '2.5 -1.5\n0.3 3.0\n-2.0 0.7\n1.1 1.9\n-0.4 -2.2\n9 9\n' > "$TMP/srv.txt"
h5file "$TMP/srv.h5" 6 2 < "$TMP/srv.txt"
FILE=(--set feddf.server_data=file --set feddf.server_file="$TMP/srv.h5")
run "$TMP/s.conf" kdf "${FILE[@]}"
{ grep -v srv "$TMP/ref.in"; head -4 "$TMP/srv.txt" | awk '{ print "srv", $1, $2 }'; } > "$TMP/reff.in"
awk -v D=2 -v C=3 -v H=4 -v T=2 -v lr=0.1 -v steps=2 -f "$HETFL_SRCDIR/tests/feddf_reference.awk" "$TMP/reff.in" \
  > "$TMP/reff.out"
check "server data from a file: student = reference on the file's first 4 inputs" \
  model_matches "$TMP/kdf.h5" "$TMP/reff.out" 1e-6
check "server data from a file: differs from the held-out rows' student (the check above can fail)" \
  bash -c "! h5diff -d 1e-4 '$TMP/kd.h5' '$TMP/kdf.h5' /model/final /model/final > /dev/null 2>&1"
# 3 rounds with training (lr 0.2), checkpoints every 2: 1/2/3 ranks; the finished
# run resumed on 2 ranks redoes round 3 from round 2's checkpoint (tests/resume_state.sh)
R=("${FILE[@]}" --set federation.rounds=3 --set federation.lr=0.2 --set run.checkpoint_every=2)
run "$TMP/s.conf" fr1 "${R[@]}"
run_mpi 2 run "$TMP/s.conf" --quiet -o "$TMP/fr2.h5" "${R[@]}" > /dev/null 2>&1
check "server data from a file: 2 ranks = 1 rank" "$HETFL" compare "$TMP/fr1.h5" "$TMP/fr2.h5"
run_mpi 3 run "$TMP/s.conf" --quiet -o "$TMP/fr3.h5" "${R[@]}" --set aggregation.topology=allreduce > /dev/null 2>&1
check "server data from a file: 3 ranks, allreduce = 1 rank" "$HETFL" compare "$TMP/fr1.h5" "$TMP/fr3.h5"
cp "$TMP/fr1.h5" "$TMP/frr.h5"
run_mpi 2 run "$TMP/s.conf" --quiet --resume "$TMP/frr.h5" "${R[@]}" > "$TMP/frr.log" 2>&1
check "server data from a file: resumed from round 2 on 2 ranks = uninterrupted" \
  "$HETFL" compare "$TMP/fr1.h5" "$TMP/frr.h5"
h5file "$TMP/srv3.h5" 4 3 < <(printf '1 2 3\n4 5 6\n7 8 9\n1 1 1\n')
"$HETFL" run "$TMP/s.conf" --quiet -o "$TMP/bad3.h5" "${FILE[@]}" --set feddf.server_file="$TMP/srv3.h5" \
  > "$TMP/bad3.log" 2>&1
rc=$?
check "server file with 3 features for 2: exit 2 (got $rc), key 'feddf.server_file', no results file" \
  bash -c "[ $rc = 2 ] && grep -q \"key 'feddf.server_file': .*srv3.h5: inputs of shape 1x1x3; the run's are 1x1x2\" \
    '$TMP/bad3.log' && [ ! -e '$TMP/bad3.h5' ]"
run "$TMP/s.conf" few "${FILE[@]}" --set feddf.server_samples=7 > /dev/null 2>&1
check "7 server samples from a file of 6: exit 2" \
  grep -q "key 'feddf.server_samples': 7 server samples, but .*srv.h5 holds 6" "$TMP/few.log"

# MLP (group a) + CNN (group b, 8-16-32 at width 1/2) on noise, Fashion-MNIST (1,500 samples)
S=$HETFL_SRCDIR/tests/data/tiny.conf
F=(--set federation.strategy=feddf --set feddf.groups=a1-b1 "--set=feddf.group_models=-;cnn:8,16,32"
   --set feddf.server_data=noise --set feddf.server_samples=50 --set feddf.val_samples=50
   --set feddf.steps=6 --set feddf.val_every=3 --set feddf.patience=6 --set data.train_samples=1500
   --set federation.rounds=3 --set run.checkpoint_every=1)
"$HETFL" run "$S" --quiet -o "$TMP/f1.h5" "${F[@]}" > "$TMP/f1.log" 2>&1
check "mlp + cnn on noise: runs" test $? = 0
check "/rounds_by_width: groups 1 and 0.5, 2 evaluations" \
  test "$(cols "$TMP/f1.h5" /rounds_by_width round width | tr '\n' ' ')" = "2 1 2 0.5 3 1 3 0.5 "
run_mpi 2 run "$S" --quiet -o "$TMP/f2.h5" "${F[@]}" > /dev/null 2>&1
check "mlp + cnn: 2 ranks = 1 rank" "$HETFL" compare "$TMP/f1.h5" "$TMP/f2.h5"
run_mpi 3 run "$S" --quiet -o "$TMP/f3.h5" "${F[@]}" --set aggregation.topology=allreduce > /dev/null 2>&1
check "mlp + cnn: 3 ranks, allreduce = 1 rank" "$HETFL" compare "$TMP/f1.h5" "$TMP/f3.h5"
# SIGTERM + resume over 10 rounds, so that the signal lands mid-run on a fast machine too
F=("${F[@]}" --set federation.rounds=10)
"$HETFL" run "$S" --quiet -o "$TMP/f10.h5" "${F[@]}" > /dev/null 2>&1
"$HETFL" run "$S" -o "$TMP/term.h5" "${F[@]}" > "$TMP/term.log" 2>&1 & pid=$!
wait_round 2 "$TMP/term.log"
kill -TERM $pid; wait $pid; rc=$?
check "mlp + cnn: SIGTERM: exit 3 (got $rc)" test $rc = 3
run_mpi 2 run "$S" --quiet --resume "$TMP/term.h5" "${F[@]}" > "$TMP/resume.log" 2>&1
check "mlp + cnn: resumed on 2 ranks = uninterrupted run" "$HETFL" compare "$TMP/f10.h5" "$TMP/term.h5"

refused() {  # VALUE WHY: the toy suite with feddf.group_models = VALUE: exit 2, FILE:LINE: key, no file
  sed "s/^group_models = .*/group_models = $1/" "$TMP/s.conf" > "$TMP/bad.conf"
  local line rc
  line=$(grep -n '^group_models' "$TMP/bad.conf" | cut -d: -f1)
  "$HETFL" run "$TMP/bad.conf" --quiet -o "$TMP/bad.h5" > "$TMP/bad.log" 2>&1
  rc=$?
  [ $rc = 2 ] && grep -q "bad.conf:$line: key 'feddf.group_models': .*$2" "$TMP/bad.log" && [ ! -e "$TMP/bad.h5" ]
}
check "an lstm group on vectors: exit 2" refused "-; lstm" "lstm needs text data"
check "a cnn group on vectors: exit 2" refused "-; cnn" "cnn needs image data"
check "group a not the run's model: exit 2" refused "mlp; -" "must be -"
check "one entry for two groups: exit 2" refused "-" "1 entries for 2 groups"
check "an unknown architecture: exit 2" refused "-; vgg" "expected -, logreg"
check "an mlp with a zero width: exit 2" refused "-; mlp:4,0" "widths are 1 to 8 integers"
finish
