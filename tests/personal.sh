#!/usr/bin/env bash
# Per-client evaluation (data.client_test_fraction, src/engine/client_eval.c),
# fine-tuning (personal.finetune_steps) and Ditto (src/strategies/ditto.c).
# Values pinned independently (tests/personal_reference.awk, double precision
# from the definitions) on logistic regression over a LEAF file of four clients
# of UNEQUAL sizes (10, 5, 4, 2 copies of one sample each, so h_k = ⌊n_k/4⌋ =
# 2, 1, 1, 0 and nothing depends on the shuffles):
#   - /client_eval.samples, and accuracy and loss of every client's split:
#     FedAvg (the global model), FedAvg + fine-tuning (k gradient steps), Ditto
#     after one round (proximal steps towards w_0), within 1e-5;
#   - a client with an empty split: NaN, left out of the summaries;
#   - data.client_test_natural: the splits are the test file's users; refused
#     with client_test_fraction, or when the test file has fewer users;
# then on Fashion-MNIST (tests/data/tiny.conf, Dirichlet(0.3)):
#   - the /rounds summaries recomputed from the /client_eval rows (mean,
#     weighted mean, nearest-rank 10th percentile, minimum: exact);
#   - hetfl report prints them, hetfl-plot draws client-accuracy.png;
#   - keys off: no /client_eval, summaries NaN;
#   - degenerate cases: finetune_steps = 0 is the global model's evaluation;
#     Ditto's global model is FedAvg's, bit for bit, at twice the simulated
#     compute time (two models trained); with lambda = 1e9 and every
#     client in every round, its per-client figures of round r equal FedAvg's
#     (the global model's) of round r - 1, the model v_k was pulled to (accuracy
#     exactly, loss within 1e-6); with lambda = 0.1 they differ, and their mean
#     is above FedAvg's on this non-IID split;
#   - 1, 2 and 3 ranks bitwise identical (hetfl compare + /client_eval), and
#     SIGTERM + --resume of Ditto on another rank count = the uninterrupted run,
#     and a resume from an earlier checkpoint drops the /client_eval rows after it;
#   - decentralized mode (each client's own model): 1 rank = 2 ranks;
#   - bad input: exit 2 with FILE:LINE: key '...'.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/personal_toy.sh"
run x0 --set federation.lr=0 || bad "run with lr = 0"
model_values "$TMP/x0.h5" > "$TMP/x0"
run avg || bad "fedavg run"
model_values "$TMP/avg.h5" > "$TMP/w1"
awk -f "$SOFTMAX_REF" -f "$REF" -v D=2 -v C=3 -v f=0.25 -v mode=eval "$TMP/w1" "$TMP/clients" > "$TMP/ref.eval"
check "fedavg: every client's split (2,1,1,0 samples) evaluated with the global model" rows_match "$TMP/avg.h5" "$TMP/ref.eval"
run ft --set personal.finetune_steps=3 || bad "fine-tuning run"
awk -f "$SOFTMAX_REF" -f "$REF" -v D=2 -v C=3 -v f=0.25 -v mode=finetune -v lr=0.5 -v steps=3 "$TMP/w1" "$TMP/clients" > "$TMP/ref.ft"
check "fine-tuning: 3 gradient steps from the global model, then the split" rows_match "$TMP/ft.h5" "$TMP/ref.ft"
check "fine-tuning changed the losses" test "$(col -x "$TMP/avg.h5" /client_eval loss)" != "$(col -x "$TMP/ft.h5" /client_eval loss)"
run ditto --set federation.strategy=ditto --set ditto.lambda=0.7 || bad "ditto run"
awk -f "$SOFTMAX_REF" -f "$REF" -v D=2 -v C=3 -v f=0.25 -v mode=ditto -v lr=0.5 -v lam=0.7 -v B=2 -v E=1 "$TMP/x0" "$TMP/clients" > "$TMP/ref.ditto"
check "ditto, 1 round: personal models by the proximal step from w_0" rows_match "$TMP/ditto.h5" "$TMP/ref.ditto"
# data.client_test_natural: the test file's users (same names, same order) are the splits
printf '0 3 0.0 1.0 2\n1 1 1.0 0.0 0\n2 2 -0.5 -0.5 1\n3 1 0.3 0.9 2\n' > "$TMP/tclients"
leaf_json 2 < "$TMP/tclients" > "$TMP/test2.json"
run nat --set data.client_test_fraction=0 --set data.client_test_natural=yes --set data.test_path="$TMP/test2.json" ||
  bad "run with data.client_test_natural"
model_values "$TMP/nat.h5" > "$TMP/wn"
awk -f "$SOFTMAX_REF" -f "$REF" -v D=2 -v C=3 -v natural=1 -v mode=eval "$TMP/wn" "$TMP/tclients" > "$TMP/ref.nat"
check "client_test_natural: each client's split is its test-file user (3,1,2,1 samples), global model" \
  rows_match "$TMP/nat.h5" "$TMP/ref.nat"
run natbad --set data.client_test_natural=yes > /dev/null 2>&1; rc=$?
check "client_test_natural with client_test_fraction: refused" grep -q "key 'data.client_test_natural': .*not both" "$TMP/natbad.log"
run natbad2 --set data.client_test_fraction=0 --set data.client_test_natural=yes > /dev/null 2>&1
check "client_test_natural with a 1-user test file (4 clients): refused" \
  grep -q "key 'data.client_test_natural': the test file has 1 users, the run 4 clients" "$TMP/natbad2.log"
check "a client with an empty split is left out: summaries over clients 0-2" test \
  "$(cols -x "$TMP/avg.h5" /rounds client_acc_mean)" = \
  "$(awk '$2 > 0 { s += $3; n++ } END { printf "%.17g", s / n }' "$TMP/ref.eval")"

need_fmnist
S=$HETFL_SRCDIR/tests/data/tiny.conf
B=(--set data.partition=dirichlet --set data.alpha=0.3 --set data.client_test_fraction=0.2 --set federation.rounds=6
   --set federation.eval_every=2)
"$HETFL" run "$S" --quiet -o "$TMP/f1.h5" "${B[@]}" > /dev/null 2>&1
check "fashion-mnist, per-client evaluation: runs" test $? = 0
check "/client_eval: 20 clients x 3 evaluated rounds" test "$(nrows "$TMP/f1.h5" /client_eval)" = 60
# summary ROUND: mean, weighted mean, nearest-rank p10, min of that round's rows (awk, doubles)
summary() {
  cols -x "$1" /client_eval round samples accuracy | awk -v r="$2" '$1 == r && $2 > 0 {
      a[n++] = $3; s += $3; ns += $2; nc += int($3 * $2 + 0.5) }
    END { for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
          q = int(0.1 * n); if (q < 0.1 * n) q++
          printf "%.17g %.17g %.17g %.17g\n", s / n, nc / ns, a[q - 1], a[0] }'
}
for r in 2 6; do
  check "round $r: /rounds client_acc_* = the summaries of its /client_eval rows" test \
    "$(cols -x "$TMP/f1.h5" /rounds round client_acc_mean client_acc_wmean client_acc_p10 client_acc_min | awk -v r=$r '$1 == r { print $2, $3, $4, $5 }')" = \
    "$(summary "$TMP/f1.h5" $r)"
done
# hetfl report: the last evaluated round's summaries; hetfl-plot's client-accuracy figure
"$HETFL" report "$TMP/f1.h5" > "$TMP/rep.txt" 2>&1
check "hetfl report: the final client accuracies (mean, p10, worst)" test \
  "$(awk '/^final client acc\. (mean|weighted|p10|worst)/ { print $NF }' "$TMP/rep.txt" | tr '\n' ' ')" = \
  "$(summary "$TMP/f1.h5" 6 | awk '{ printf "%.4g %.4g %.4g %.4g ", $1, $2, $3, $4 }')"
py=""
for p in /usr/bin/python3 python3; do "$p" -c 'import h5py, matplotlib' 2> /dev/null && { py=$p; break; }; done
if [ -n "$py" ]; then
  "$py" "$HETFL_SRCDIR/tools/hetfl-plot.py" -o "$TMP/png" --no-heatmap "$TMP/f1.h5" > /dev/null 2>&1
  check "hetfl-plot wrote client-accuracy.png" test "$(head -c 4 "$TMP/png/client-accuracy.png" | tail -c 3)" = PNG
fi
check "not evaluated (round 1): summaries NaN" test \
  "$(cols "$TMP/f1.h5" /rounds client_acc_mean client_acc_min | head -1)" = "nan nan"
"$HETFL" run "$S" --quiet -o "$TMP/off.h5" --set federation.rounds=2 > /dev/null 2>&1
check "keys off: no /client_eval" bash -c "! h5ls '$TMP/off.h5/client_eval' > /dev/null 2>&1"
check "keys off: summaries NaN" test "$(cols "$TMP/off.h5" /rounds client_acc_mean client_acc_p10 | sort -u)" = "nan nan"

"$HETFL" run "$S" --quiet -o "$TMP/ft0.h5" "${B[@]}" --set personal.finetune_steps=0 > /dev/null 2>&1
check "finetune_steps = 0 = the global model's per-client evaluation" same "$TMP/f1.h5" "$TMP/ft0.h5"
"$HETFL" run "$S" --quiet -o "$TMP/dg.h5" "${B[@]}" --set federation.strategy=ditto > /dev/null 2>&1
check "ditto: the global model is fedavg's, bit for bit" h5diff "$TMP/f1.h5" "$TMP/dg.h5" /model/final /model/final
check "ditto: /rounds test accuracy = fedavg's" test "$(col -x "$TMP/f1.h5" /rounds test_accuracy)" = "$(col -x "$TMP/dg.h5" /rounds test_accuracy)"
check "ditto: simulated compute time counts both trainings (2 x fedavg's, every participation)" test \
  "$(col -x "$TMP/f1.h5" /participation compute_s_model | awk '{ printf "%.17g\n", 2 * $1 }')" = \
  "$(col -x "$TMP/dg.h5" /participation compute_s_model)"
# lambda -> infinity: v_k -> the global model of the round k last trained in.  With every
# client in every round, Ditto's rows of round r are FedAvg's (the global model's) of round r - 1
F=("${B[@]}" --set federation.clients_per_round=20 --set federation.rounds=3 --set federation.eval_every=1)
"$HETFL" run "$S" --quiet -o "$TMP/fa.h5" "${F[@]}" > /dev/null 2>&1
"$HETFL" run "$S" --quiet -o "$TMP/dbig.h5" "${F[@]}" --set federation.strategy=ditto --set ditto.lambda=1e9 > /dev/null 2>&1
rows_of() { cols -x "$1" /client_eval round client samples "$3" | awk -v r="$2" '$1 == r { $1 = ""; print }'; }
check "ditto lambda = 1e9: per-client accuracies of round 3 = the global model's of round 2" test \
  "$(rows_of "$TMP/dbig.h5" 3 accuracy)" = "$(rows_of "$TMP/fa.h5" 2 accuracy)"
check "ditto lambda = 1e9: ... of round 2 = the global model's of round 1" test \
  "$(rows_of "$TMP/dbig.h5" 2 accuracy)" = "$(rows_of "$TMP/fa.h5" 1 accuracy)"
check "ditto lambda = 1e9: per-client losses within 1e-6" bash -c "paste <(echo '$(rows_of "$TMP/dbig.h5" 3 loss)') \
  <(echo '$(rows_of "$TMP/fa.h5" 2 loss)') | awk '{ d = \$3 - \$6; if (d < 0) d = -d; if (\$1 != \$4 || d > 1e-6) b = 1; n++ } END { exit b || n != 20 }'"
D=("${B[@]}" --set federation.strategy=ditto --set ditto.lambda=0.1 --set run.checkpoint_every=2 --set federation.rounds=16
   --set federation.local_epochs=2)
"$HETFL" run "$S" --quiet -o "$TMP/f16.h5" "${B[@]}" --set federation.rounds=16 --set federation.local_epochs=2 > /dev/null 2>&1
"$HETFL" run "$S" --quiet -o "$TMP/d1.h5" "${D[@]}" > /dev/null 2>&1
check "ditto lambda = 0.1: per-client accuracies differ from fedavg's" test \
  "$(col -x "$TMP/f16.h5" /client_eval accuracy)" != "$(col -x "$TMP/d1.h5" /client_eval accuracy)"
check "ditto lambda = 0.1: mean per-client accuracy above fedavg's (non-IID)" awk -v a="$(cols -x "$TMP/f16.h5" /rounds client_acc_mean | tail -1)" \
  -v b="$(cols -x "$TMP/d1.h5" /rounds client_acc_mean | tail -1)" 'BEGIN { exit !(b > a) }'
for n in 2 3; do
  run_mpi $n run "$S" --quiet -o "$TMP/d$n.h5" "${D[@]}" > /dev/null 2>&1
  check "ditto: $n ranks = 1 rank (hetfl compare, /client_eval)" same "$TMP/d1.h5" "$TMP/d$n.h5"
  run_mpi $n run "$S" --quiet -o "$TMP/ft$n.h5" "${B[@]}" --set personal.finetune_steps=4 > /dev/null 2>&1
done
"$HETFL" run "$S" --quiet -o "$TMP/ft1.h5" "${B[@]}" --set personal.finetune_steps=4 > /dev/null 2>&1
check "fine-tuning: 2 ranks = 1 rank" same "$TMP/ft1.h5" "$TMP/ft2.h5"
check "fine-tuning: 3 ranks = 1 rank" same "$TMP/ft1.h5" "$TMP/ft3.h5"

# SIGTERM after round 3: exit 3 with a checkpoint; resume on 3 ranks
"$HETFL" run "$S" -o "$TMP/term.h5" "${D[@]}" > "$TMP/term.log" 2>&1 & pid=$!
wait_round 3 "$TMP/term.log"
kill -TERM $pid; wait $pid; rc=$?
check "ditto: SIGTERM, exit 3 (got $rc)" test $rc = 3
run_mpi 3 run "$S" --quiet --resume "$TMP/term.h5" "${D[@]}" > "$TMP/resume.log" 2>&1
check "ditto: resume on 3 ranks, exit 0" test $? = 0
check "ditto: resumed run = uninterrupted run (personal models checkpointed)" same "$TMP/d1.h5" "$TMP/term.h5"

# a crash after the last checkpoint, made deterministic: a finished 7-round run keeps
# its checkpoint of round 4 and /client_eval rows up to round 7; resuming a copy of
# it (on 2 ranks) must drop the rows after round 4 and end as the run itself
K=("${D[@]}" --set federation.eval_every=1 --set federation.rounds=7 --set run.checkpoint_every=4)
"$HETFL" run "$S" --quiet -o "$TMP/k1.h5" "${K[@]}" > /dev/null 2>&1
cp "$TMP/k1.h5" "$TMP/k2.h5"
run_mpi 2 run "$S" --quiet --resume "$TMP/k2.h5" "${K[@]}" > "$TMP/resume2.log" 2>&1
check "ditto: resume from the round-4 checkpoint of a finished run, exit 0" test $? = 0
check "ditto: /client_eval rows after the checkpoint dropped: 7 x 20 rows, = the run" same "$TMP/k1.h5" "$TMP/k2.h5"

# decentralized mode: each client's own (gossiped) model; 1 rank = 2 ranks
T=(--variant 0 --set federation.rounds=6 --set data.client_test_fraction=0.2 --set federation.eval_every=3)
"$HETFL" run "$HETFL_SRCDIR/suites/topology.conf" --quiet -o "$TMP/dec1.h5" "${T[@]}" > /dev/null 2>&1
run_mpi 2 run "$HETFL_SRCDIR/suites/topology.conf" --quiet -o "$TMP/dec2.h5" "${T[@]}" > /dev/null 2>&1
check "decentralized: per-client evaluation of the client models, 2 ranks = 1 rank" same "$TMP/dec1.h5" "$TMP/dec2.h5"
check "decentralized: /client_eval has 30 clients x 2 evaluated rounds" test "$(nrows "$TMP/dec1.h5" /client_eval)" = 60

# bad input: exit 2 on every rank, FILE:LINE: key '...'
run_mpi 2 run "$S" --quiet -o "$TMP/bad.h5" --set personal.finetune_steps=3 > "$TMP/bad.log" 2>&1; rc=$?
check "finetune_steps without a client test split: exit 2 (got $rc)" test $rc = 2
check "  message names the key" grep -q "key 'personal.finetune_steps': .*data.client_test_fraction" "$TMP/bad.log"
run_mpi 2 run "$S" --quiet -o "$TMP/bad2.h5" --set data.client_test_fraction=0.2 --set federation.mode=async > "$TMP/bad2.log" 2>&1; rc=$?
check "client_test_fraction in async mode: exit 2 (got $rc)" test $rc = 2
check "  message names the key" grep -q "key 'data.client_test_fraction':" "$TMP/bad2.log"
"$HETFL" run "$S" --quiet -o "$TMP/bad3.h5" --set data.client_test_fraction=0.95 > "$TMP/bad3.log" 2>&1; rc=$?
check "client_test_fraction 0.95 (out of range): exit 2 (got $rc)" test $rc = 2
finish
