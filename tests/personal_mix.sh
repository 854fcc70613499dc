#!/usr/bin/env bash
# FedEM (src/strategies/fedem.c) and kNN-Per (src/strategies/knnper.c): the
# personal predictors that are no single model (the personal_eval hook).
# Values pinned independently (tests/personal_reference.awk, double precision
# from the definitions) on logistic regression over the LEAF file of
# tests/personal.sh: four clients of UNEQUAL sizes (10, 5, 4, 2 copies of one
# sample each; test splits of 2, 1, 1, 0), one round with every client:
#   - FedEM, M = 2: responsibilities, pi_k, the weighted training of both
#     components, their n_k-weighted average and every client's mixture on its
#     split (accuracy exactly, loss within 1e-5); the components' initial
#     values are read from the checkpoint of a run with lr = 0;
#   - kNN-Per, lambda = 0.3: each datastore holds the client's copies, so the
#     kNN distribution is onehot(y) and the prediction 0.3 onehot(y) + 0.7
#     softmax (within 1e-5), from FedAvg's model of the same run;
#   - kNN-Per's datastore memory: strategy_state_bytes = the sum over clients of
#     min(training samples, capacity, max_bytes / (4 D + 4), its device class's
#     knnper.class_max_bytes / (4 D + 4)) (4 D + 4) bytes;
# then on Fashion-MNIST (tests/data/tiny.conf, Dirichlet(0.3)):
#   - degenerate cases: FedEM with M = 1 is FedAvg bit for bit (model, /rounds
#     test accuracy, /participation) and so are its per-client accuracies
#     (losses within 1e-6: the mixture is computed in double); kNN-Per with
#     lambda = 0 likewise;
#   - FedEM's M = 3 uploads 3 models and trains 3 (bytes_up, compute_s_model
#     3 x the M = 1 run's); kNN-Per with lambda = 0.5 above FedAvg's mean;
#   - 1, 2 and 3 ranks bitwise identical, and SIGTERM + --resume of FedEM on
#     another rank count = the uninterrupted run (components and pi_k);
#   - bad input: exit 2 with FILE:LINE: key '...'.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/personal_toy.sh"
EM=(--set federation.strategy=fedem --set fedem.components=2)
# the initial components: a run with lr = 0 keeps them; its round-1 checkpoint holds them
run em0 "${EM[@]}" --set federation.lr=0 --set federation.rounds=2 --set run.checkpoint_every=1 || bad "fedem run, lr = 0"
"$H5DUMP" -d /checkpoint/slot0/fedem_components -b LE -o "$TMP/comps.bin" "$TMP/em0.h5" > /dev/null
od -An -v -tf4 -w4 "$TMP/comps.bin" | awk '{ print $1 }' > "$TMP/comps"
check "fedem: 2 components of 9 parameters in the checkpoint" test "$(wc -l < "$TMP/comps")" = 18
model_values "$TMP/em0.h5" > "$TMP/w0"
check "fedem: component 1 is the run's initial model (od prints 8 digits)" bash -c "paste <(head -9 '$TMP/comps') \
  '$TMP/w0' | awk '{ d = \$1 - \$2; if (d < 0) d = -d; if (d > 1e-7) b = 1; n++ } END { exit b || n != 9 }'"
run em "${EM[@]}" || bad "fedem run"
awk -f "$SOFTMAX_REF" -f "$REF" -v D=2 -v C=3 -v f=0.25 -v mode=fedem -v M=2 -v lr=0.5 -v B=2 -v E=1 \
  "$TMP/comps" "$TMP/clients" > "$TMP/ref.em"
check "fedem M = 2, 1 round: E-step, pi, weighted training, averages, each split's mixture" \
  rows_match "$TMP/em.h5" "$TMP/ref.em"
run kn --set federation.strategy=knnper --set knnper.lambda=0.3 --set knnper.k=3 || bad "knnper run"
model_values "$TMP/kn.h5" > "$TMP/wk"
awk -f "$SOFTMAX_REF" -f "$REF" -v D=2 -v C=3 -v f=0.25 -v mode=knnper -v lam=0.3 "$TMP/wk" "$TMP/clients" > "$TMP/ref.kn"
check "knnper lambda = 0.3: 0.3 p_kNN + 0.7 p_global on each split" rows_match "$TMP/kn.h5" "$TMP/ref.kn"
state_bytes() { "$H5DUMP" -a /system/strategy_state_bytes "$1" | awk '/\(0\)/ { gsub(/"/, "", $2); print $2 }'; }
# training samples 8, 4, 3, 2; D = 2 (logreg: the input), 12 bytes a sample
check "knnper: datastores 17 samples x 12 bytes" test "$(state_bytes "$TMP/kn.h5")" = 204
run knc --set federation.strategy=knnper --set knnper.capacity=3 || bad "knnper capacity run"
check "knnper capacity 3: 3 + 3 + 3 + 2 samples" test "$(state_bytes "$TMP/knc.h5")" = 132
run knb --set federation.strategy=knnper --set knnper.max_bytes=30 || bad "knnper max_bytes run"
check "knnper max_bytes 30: 2 samples a client" test "$(state_bytes "$TMP/knb.h5")" = 96
# per device class: phone-low clients at most 30 / 12 = 2 samples, laptops 40 / 12 = 3
run kcl --set federation.strategy=knnper --set devices.classes=phone-low:0.5,laptop:0.5 \
  --set knnper.class_max_bytes="phone-low:30, laptop:40" || bad "knnper class cap run"
check "knnper class caps: each client's datastore min(n_k, its class's cap) x 12 bytes (/clients' classes)" test \
  "$(state_bytes "$TMP/kcl.h5")" = "$(cols "$TMP/kcl.h5" /clients device_class samples | awk '
    { c = $1 == "phone-low" ? 2 : $1 == "laptop" ? 3 : -1; s += ($2 < c ? $2 : c) * 12 } END { print s }')"
check "knnper class caps: both classes present" test "$(cols "$TMP/kcl.h5" /clients device_class | sort -u | wc -l)" = 2

need_fmnist
S=$HETFL_SRCDIR/tests/data/tiny.conf
B=(--set data.partition=dirichlet --set data.alpha=0.3 --set data.client_test_fraction=0.2 --set federation.rounds=6
   --set federation.eval_every=2)
fm() { local out=$1; shift; "$HETFL" run "$S" --quiet -o "$TMP/$out.h5" "${B[@]}" "$@" > "$TMP/$out.log" 2>&1 ||
         { cat "$TMP/$out.log"; return 1; }; }
# degenerate A B WHAT: same model, test accuracy, participation; per-client accuracy exact, loss 1e-6
degenerate() {
  check "$3: the global model is fedavg's, bit for bit" h5diff "$1" "$2" /model/final /model/final
  check "$3: /rounds test accuracy = fedavg's" test "$(col -x "$1" /rounds test_accuracy)" = "$(col -x "$2" /rounds test_accuracy)"
  check "$3: /participation = fedavg's (steps, bytes, compute, loss)" test \
    "$(cols -x "$1" /participation client steps bytes_up compute_s_model local_loss)" = \
    "$(cols -x "$2" /participation client steps bytes_up compute_s_model local_loss)"
  check "$3: per-client accuracies = fedavg's, bit for bit" test \
    "$(cols -x "$1" /client_eval round client samples accuracy)" = "$(cols -x "$2" /client_eval round client samples accuracy)"
  check "$3: per-client losses within 1e-6" bash -c "paste <(echo '$(col -x "$1" /client_eval loss)') \
    <(echo '$(col -x "$2" /client_eval loss)') | awk '{ d = \$1 - \$2; if (d < 0) d = -d; if (d > 1e-6) b = 1; n++ } END { exit b || n != 60 }'"
}
fm avg || bad "fedavg run"
fm em1 --set federation.strategy=fedem --set fedem.components=1 || bad "fedem M = 1 run"
degenerate "$TMP/avg.h5" "$TMP/em1.h5" "fedem M = 1"
fm kn0 --set federation.strategy=knnper --set knnper.lambda=0 || bad "knnper lambda = 0 run"
degenerate "$TMP/avg.h5" "$TMP/kn0.h5" "knnper lambda = 0"
F=(--set federation.strategy=fedem --set fedem.components=3 --set run.checkpoint_every=2 --set federation.rounds=8)
fm em3 "${F[@]}" || bad "fedem M = 3 run"
check "fedem M = 3: 3 models each way, 3 trained (bytes_up exactly, compute_s_model within 1e-12, = 3 x M = 1's)" \
  bash -c "paste <(echo '$(cols -x "$TMP/em3.h5" /participation bytes_up compute_s_model | head -42)') \
  <(echo '$(cols -x "$TMP/em1.h5" /participation bytes_up compute_s_model)') | awk '{ d = \$2 - 3 * \$4; if (d < 0) d = -d
    if (\$1 != 3 * \$3 || d > 1e-12 * \$2) b = 1; n++ } END { exit b || n != 42 }'"
fm kn5 --set federation.strategy=knnper --set knnper.lambda=0.5 || bad "knnper lambda = 0.5 run"
check "knnper lambda = 0.5: mean per-client accuracy above fedavg's (non-IID)" awk \
  -v a="$(col -x "$TMP/avg.h5" /rounds client_acc_mean | tail -1)" -v b="$(col -x "$TMP/kn5.h5" /rounds client_acc_mean | tail -1)" \
  'BEGIN { exit !(b > a) }'
for n in 2 3; do
  run_mpi $n run "$S" --quiet -o "$TMP/em3-$n.h5" "${B[@]}" "${F[@]}" > /dev/null 2>&1
  check "fedem: $n ranks = 1 rank (hetfl compare, /client_eval)" same "$TMP/em3.h5" "$TMP/em3-$n.h5"
  run_mpi $n run "$S" --quiet -o "$TMP/kn5-$n.h5" "${B[@]}" --set federation.strategy=knnper --set knnper.lambda=0.5 \
    > /dev/null 2>&1
  check "knnper: $n ranks = 1 rank (hetfl compare, /client_eval)" same "$TMP/kn5.h5" "$TMP/kn5-$n.h5"
done

# SIGTERM after round 3: exit 3 with a checkpoint; resume on 3 ranks
"$HETFL" run "$S" -o "$TMP/term.h5" "${B[@]}" "${F[@]}" > "$TMP/term.log" 2>&1 & pid=$!
wait_round 3 "$TMP/term.log"
kill -TERM $pid; wait $pid; rc=$?
check "fedem: SIGTERM, exit 3 (got $rc)" test $rc = 3
run_mpi 3 run "$S" --quiet --resume "$TMP/term.h5" "${B[@]}" "${F[@]}" > "$TMP/resume.log" 2>&1
check "fedem: resume on 3 ranks, exit 0" test $? = 0
check "fedem: resumed run = uninterrupted run (components, pi_k checkpointed)" same "$TMP/em3.h5" "$TMP/term.h5"

# bad input: exit 2 on every rank, FILE:LINE: key '...'
badkey() {
  local what=$1 key=$2; shift 2
  run_mpi 2 run "$S" --quiet -o "$TMP/bad.h5" "${B[@]}" "$@" > "$TMP/bad.log" 2>&1; local rc=$?
  check "$what: exit 2 (got $rc)" test $rc = 2
  check "  message names key '$key'" grep -q "key '$key'" "$TMP/bad.log"
  check "  no results file left" test ! -e "$TMP/bad.h5"
}
badkey "fedem.components = 0" fedem.components --set federation.strategy=fedem --set fedem.components=0
badkey "fedem with server.optimizer = adam" server.optimizer --set federation.strategy=fedem --set server.optimizer=adam
badkey "fedem with fine-tuning" personal.finetune_steps --set federation.strategy=fedem --set personal.finetune_steps=3
badkey "fedem with energy.compress = qsgd" energy.compress --set federation.strategy=fedem --set energy.compress=qsgd
badkey "knnper.lambda = 1.5" knnper.lambda --set federation.strategy=knnper --set knnper.lambda=1.5
badkey "knnper.k = 0" knnper.k --set federation.strategy=knnper --set knnper.k=0
badkey "knnper.class_max_bytes: a class not in the run" knnper.class_max_bytes --set federation.strategy=knnper \
  --set knnper.class_max_bytes=phone-mid:100
badkey "knnper.class_max_bytes: bytes not an integer" knnper.class_max_bytes --set federation.strategy=knnper \
  --set knnper.class_max_bytes=default:x
badkey "knnper.class_max_bytes: fewer bytes than one sample" knnper.class_max_bytes --set federation.strategy=knnper \
  --set knnper.class_max_bytes=default:10
badkey "knnper with fine-tuning" personal.finetune_steps --set federation.strategy=knnper --set personal.finetune_steps=3
finish
