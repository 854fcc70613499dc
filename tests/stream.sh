#!/usr/bin/env bash
# Data streams (stream.*, src/engine/stream.c) end to end through the hetfl binary:
#  - values: a LEAF toy of two clients holding 10 and 4 copies of one sample each
#    (tests/fl_reference.awk's layout), 3 samples arriving a round, a memory of 5:
#    round 1 trains on 3 and 3, round 2 on 5 and 4 (the second stream has ended).
#    The final model equals the reference's two rounds chained with those n_k;
#    /participation.steps = ceil(held / B); /stream rows by hand; and which samples
#    a drifting stream's FIFO memory holds (two classes, one per round); the same
#    arrivals from a stream.trace file give the same model, and again when resumed;
#  - the formulas on a natural partition of unequal sizes (synthetic, 10 clients,
#    reservoir memory, drift order, per-client evaluation on a window): every
#    /stream row, /participation.steps and /client_eval.samples recomputed with awk
#    from /clients.samples and the test splits' sizes of a run without a stream;
#  - stream.policy = weighted on the toy: round 2's aggregation weights are
#    m_k (A_k / m_k)^beta: 6 and 4 at beta = 1 (the received counts), sqrt(30) and 4
#    at beta = 0.5, while both clients train on what they hold (3 and 2 steps);
#    beta = 0 equals the reservoir run bitwise;
#  - hetfl report's stream lines and hetfl-plot's stream figure;
#  - determinism: the weighted policy with per-client rates (stream.rate_spread) on
#    1, 2 and 3 ranks, and SIGTERM-free resume from the checkpoint at round 6 of 9
#    on another rank count (the memories replayed).
. "$(dirname "$0")/lib.sh"
REF=$HETFL_SRCDIR/tests/fl_reference.awk
printf '0 10 1.0 -0.5 0\n1 4 0.25 0.75 2\n' > "$TMP/clients"
leaf_json 2 < "$TMP/clients" > "$TMP/train.json"
printf '{"users": ["t"], "num_samples": [2], "user_data": {"t": {"x": [[1.0, 0.0], [0.0, 1.0]], "y": [0, 2]}}}\n' \
  > "$TMP/test.json"
cat > "$TMP/toy.conf" <<EOS
[run]
seed = 7
[data]
dataset = leaf
path = $TMP/train.json
test_path = $TMP/test.json
partition = natural
[model]
arch = logreg
[federation]
clients = 2
clients_per_round = 2
rounds = 2
batch_size = 2
lr = 0.5
[stream]
rate = 3
memory = 5
EOS
"$HETFL" run "$TMP/toy.conf" --quiet -o "$TMP/x0.h5" --set federation.lr=0 > "$TMP/x0.log" 2>&1 ||
  { cat "$TMP/x0.log"; bad "toy run with lr = 0"; }
model_values "$TMP/x0.h5" > "$TMP/x0"
"$HETFL" run "$TMP/toy.conf" --quiet -o "$TMP/toy.h5" > "$TMP/toy.log" 2>&1 || { cat "$TMP/toy.log"; bad "toy run"; }
ref() { awk -f "$SOFTMAX_REF" -f "$REF" -v D=2 -v C=3 -v lr=0.5 -v E=1 -v B=2 -v rounds=1 -v strategy=fedavg "$@"; }
printf '0 3 1.0 -0.5 0\n1 3 0.25 0.75 2\n' > "$TMP/held1"
printf '0 5 1.0 -0.5 0\n1 4 0.25 0.75 2\n' > "$TMP/held2"
ref "$TMP/x0" "$TMP/held1" | awk '$1 == "param" { print $3 }' > "$TMP/x1"
ref "$TMP/x1" "$TMP/held2" > "$TMP/x2.ref"
check "toy: the model after round 2 = FedAvg on 3 + 3 samples, then on 5 + 4 (reference)" model_matches "$TMP/toy.h5" "$TMP/x2.ref"
check "toy: /participation.steps = ceil(held / 2): 2 2, then 3 2" \
  test "$(cols "$TMP/toy.h5" /participation steps | tr '\n' ' ')" = "2 2 3 2 "
check "toy: /stream = (1, 6 arrived, 6 held, 0 ended), (2, 10, 9, 1)" \
  test "$(cols "$TMP/toy.h5" /stream round arrived held exhausted | tr '\n' ' ')" = "1 6 6 0 2 10 9 1 "
# the same arrivals from a trace (a header, a comment, lines out of order, two lines
# of one round adding up): 3 and 3 in round 1, then 5 (of which 2 beyond the
# memory) and 1: the same memories, the same model
printf 'client,round,samples\n# round 2 first\n0,2,2\n1,2,1\n0,1,3\n0,2,3\n1,1,3\n' > "$TMP/trace.csv"
TRACE=(--set stream.rate=0 --set stream.trace="$TMP/trace.csv" --set run.checkpoint_every=1)
"$HETFL" run "$TMP/toy.conf" --quiet -o "$TMP/trace.h5" "${TRACE[@]}" > "$TMP/trace.log" 2>&1 ||
  { cat "$TMP/trace.log"; bad "toy run with a trace"; }
check "trace: the model after round 2 = the same reference" model_matches "$TMP/trace.h5" "$TMP/x2.ref"
check "trace: /stream = (1, 6, 6, 0), (2, 3 + 5 + 3 + 1 = 12 arrived, 9 held, 1 ended)" \
  test "$(cols "$TMP/trace.h5" /stream round arrived held exhausted | tr '\n' ' ')" = "1 6 6 0 2 12 9 1 "
cp "$TMP/trace.h5" "$TMP/trace-res.h5"  # its checkpoint after round 1, round 2 again on 2 ranks
run_mpi 2 run "$TMP/toy.conf" --quiet "${TRACE[@]}" --resume "$TMP/trace-res.h5" > "$TMP/trace-res.log" 2>&1 ||
  { cat "$TMP/trace-res.log"; bad "trace: --resume on 2 ranks"; }
check "trace: resumed from round 1 on 2 ranks = uninterrupted" "$HETFL" compare "$TMP/trace.h5" "$TMP/trace-res.h5"

# Which samples: client 0 holds 6 copies of a = (1, 0), class 0, then 6 of b = (0, 1),
# class 2; client 1 holds 4 of c = (1, 1), class 1 (every value a byte / 255: the
# engine's byte rows would serve them).  Drift order, 6 arrivals a round, FIFO memory
# of 3: client 0 trains on 3 copies of its first class in round 1 and of the other in
# round 2 (which comes first is its keyed class order: exactly one of the two
# references must match), client 1 on 3 of c both rounds.
awk 'function rows(v, n,   s, i) { s = ""; for (i = 0; i < n; i++) s = s (i ? ", " : "") v; return s }
  BEGIN { printf "{\"users\": [\"u0\", \"u1\"], \"num_samples\": [12, 4], \"user_data\": {"
    printf "\"u0\": {\"x\": [%s, %s], \"y\": [%s, %s]}, ", rows("[1.0, 0.0]", 6), rows("[0.0, 1.0]", 6), rows(0, 6), rows(2, 6)
    printf "\"u1\": {\"x\": [%s], \"y\": [%s]}}}\n", rows("[1.0, 1.0]", 4), rows(1, 4) }' > "$TMP/two.json"
sed -e "s|$TMP/train.json|$TMP/two.json|" -e 's/^rate = 3$/rate = 6/' -e 's/^memory = 5$/memory = 3\norder = drift/' \
  "$TMP/toy.conf" > "$TMP/two.conf"
"$HETFL" run "$TMP/two.conf" --quiet -o "$TMP/two.h5" > "$TMP/two.log" 2>&1 || { cat "$TMP/two.log"; bad "two-class run"; }
for first in a b; do
  if [ $first = a ]; then s1='1.0 0.0 0' s2='0.0 1.0 2'; else s1='0.0 1.0 2' s2='1.0 0.0 0'; fi
  printf '0 3 %s\n1 3 1.0 1.0 1\n' "$s1" > "$TMP/h1"
  printf '0 3 %s\n1 3 1.0 1.0 1\n' "$s2" > "$TMP/h2"
  ref "$TMP/x0" "$TMP/h1" | awk '$1 == "param" { print $3 }' > "$TMP/y1"
  ref "$TMP/y1" "$TMP/h2" > "$TMP/two-$first.ref"
done
check "two classes: the model = the reference with client 0 on one class in round 1, the other in round 2" \
  test "$( (model_matches "$TMP/two.h5" "$TMP/two-a.ref" > /dev/null && echo a
             model_matches "$TMP/two.h5" "$TMP/two-b.ref" > /dev/null && echo b) | wc -l)" = 1

# stream.policy = weighted (a reservoir of 5): round 1 holds all 3 + 3 received (weights
# 3 and 3, as FedAvg's); round 2 holds 5 of the 6 received and all 4: the weights are
# 5 (6/5)^beta and 4 (4/4)^beta, the local steps ceil(5/2) = 3 and 2 (the reference's
# step cap: a client of 6 copies with 3 steps trains on the held 5 alike).
for beta in 1 0.5; do
  "$HETFL" run "$TMP/toy.conf" --quiet -o "$TMP/w$beta.h5" --set stream.policy=weighted \
    --set stream.weight_power=$beta > "$TMP/w.log" 2>&1 || { cat "$TMP/w.log"; bad "toy weighted run, beta $beta"; }
  w0=$(awk -v b=$beta 'BEGIN { printf "%.17g", 5 * (6 / 5) ^ b }')
  printf '0 %s 1.0 -0.5 0 3\n1 4 0.25 0.75 2\n' "$w0" > "$TMP/wheld2"
  ref "$TMP/x1" "$TMP/wheld2" > "$TMP/w$beta.ref"
  check "weighted, beta $beta: the model = FedAvg on 3 + 3, then weights $w0 and 4 (reference)" \
    model_matches "$TMP/w$beta.h5" "$TMP/w$beta.ref"
  check "weighted, beta $beta: /participation.steps 2 2, then 3 2" \
    test "$(cols "$TMP/w$beta.h5" /participation steps | tr '\n' ' ')" = "2 2 3 2 "
done
"$HETFL" run "$TMP/toy.conf" --quiet -o "$TMP/res0.h5" --set stream.policy=reservoir > "$TMP/w.log" 2>&1 ||
  { cat "$TMP/w.log"; bad "toy reservoir run"; }
check "weighted, beta 1: not the reservoir's model (weights 5 and 4)" test "$(model_values "$TMP/w1.h5")" != \
  "$(model_values "$TMP/res0.h5")"
"$HETFL" run "$TMP/toy.conf" --quiet -o "$TMP/w0.h5" --set stream.policy=weighted --set stream.weight_power=0 \
  > "$TMP/w.log" 2>&1 || { cat "$TMP/w.log"; bad "toy weighted run, beta 0"; }
check "weighted, beta 0: the reservoir's model bitwise" test "$(model_values "$TMP/w0.h5")" = \
  "$(model_values "$TMP/res0.h5")"

# --- the formulas on unequal natural clients ---
{ small_suite 9
  printf 'batch_size = 4\neval_every = 2\n[data]\nclient_test_fraction = 0.2\n[run]\ncheckpoint_every = 3\n'; } > "$TMP/s.conf"
STREAM=(--set stream.rate=5.5 --set stream.initial=1 --set stream.memory=9 --set stream.policy=reservoir
        --set stream.order=drift --set stream.eval_window=6)
"$HETFL" run "$TMP/s.conf" --quiet -o "$TMP/off.h5" > "$TMP/off.log" 2>&1 || { cat "$TMP/off.log"; bad "run without a stream"; }
run_mpi 2 run "$TMP/s.conf" --quiet -o "$TMP/on.h5" "${STREAM[@]}" > "$TMP/on.log" 2>&1 ||
  { cat "$TMP/on.log"; bad "run with a stream"; }
cols "$TMP/on.h5" /clients samples > "$TMP/nk"
awk '$1 == 2 { print $2 }' <(cols "$TMP/off.h5" /client_eval round samples) > "$TMP/hk"
check "10 clients of unequal sizes" test "$(sort -u "$TMP/nk" | wc -l)" -gt 3
# A_k(r) = min(n_k, 1 + floor(5.5 r)), held min(A, 9)
awk 'function A(n, r) { a = 1 + int(5.5 * r); return a < n ? a : n }
  { n[NR - 1] = $1 } END { for (r = 1; r <= 9; r++) { s = h = e = 0
    for (k = 0; k < 10; k++) { a = A(n[k], r); s += a; h += (a < 9 ? a : 9); e += (a == n[k]) }
    print r, s, h, e } }' "$TMP/nk" > "$TMP/stream.ref"
check "/stream rows = sum_k min(n_k, 1 + floor(5.5 r)), their memories of 9, ended streams" \
  diff <(cols "$TMP/on.h5" /stream round arrived held exhausted) "$TMP/stream.ref"
awk 'NR == FNR { n[FNR - 1] = $1; next } { a = 1 + int(5.5 * $1); if (a > n[$2]) a = n[$2]; m = a < 9 ? a : 9
  print $1, $2, int((m + 3) / 4) }' "$TMP/nk" <(cols "$TMP/on.h5" /participation round client) > "$TMP/steps.ref"
check "/participation.steps = ceil(min(A_k(r), 9) / 4) for every (round, client)" \
  diff <(cols "$TMP/on.h5" /participation round client steps) "$TMP/steps.ref"
# test sample i of h stands at position floor(i n / h); the window is [A - 6, A)
awk 'NR == FNR { n[FNR - 1] = $1; next } FILENAME == ARGV[2] { h[FNR - 1] = $1; next }
  { k = $2; a = 1 + int(5.5 * $1); if (a > n[k]) a = n[k]; lo = a > 6 ? a - 6 : 0; c = 0
    for (i = 0; i < h[k]; i++) { p = int(i * n[k] / h[k]); if (p >= lo && p < a) c++ }
    print $1, k, c }' "$TMP/nk" "$TMP/hk" <(cols "$TMP/on.h5" /client_eval round client) > "$TMP/ceval.ref"
check "/client_eval.samples = the test samples aligned with the last 6 arrivals" \
  diff <(cols "$TMP/on.h5" /client_eval round client samples) "$TMP/ceval.ref"
check "the windows are not all the whole split" test "$(awk '{ s += $3 } END { print s }' "$TMP/ceval.ref")" -lt \
  "$(awk '{ s += $1 } END { print s * 5 }' "$TMP/hk")"

# hetfl report: the toy's last /stream row (round 2: 10 received, 9 held, 1 ended; round 1's
# 6, 6, 0 differ in every column); hetfl-plot: stream.png
"$HETFL" report "$TMP/toy.h5" > "$TMP/rep.txt" 2>&1
check "hetfl report: stream received / held / ended = the last /stream row, 10 9 1" test \
  "$(awk '/^stream: (samples received|samples held|clients ended)/ { print $NF }' "$TMP/rep.txt" | tr '\n' ' ')" = \
  "10 9 1 "
py=""
for p in /usr/bin/python3 python3; do "$p" -c 'import h5py, matplotlib' 2> /dev/null && { py=$p; break; }; done
if [ -n "$py" ]; then
  "$py" "$HETFL_SRCDIR/tools/hetfl-plot.py" -o "$TMP/png" --no-heatmap "$TMP/on.h5" > /dev/null 2>&1
  check "hetfl-plot wrote stream.png" test "$(head -c 4 "$TMP/png/stream.png" | tail -c 3)" = PNG
fi

# --- determinism: the weighted policy, per-client rates ---
WSTREAM=("${STREAM[@]}" --set stream.policy=weighted --set stream.weight_power=0.7 --set stream.rate_spread=0.6)
for n in 1 2 3; do  # (1 rank: without mpiexec)
  if [ $n = 1 ]; then launch=("$HETFL"); else launch=("$MPIEXEC" -n $n $OVERSUB "$HETFL"); fi
  "${launch[@]}" run "$TMP/s.conf" --quiet -o "$TMP/w-$n.h5" "${WSTREAM[@]}" > "$TMP/w-$n.log" 2>&1 ||
    { cat "$TMP/w-$n.log"; bad "weighted stream run on $n ranks"; }
done
check "weighted stream: 1 rank == 2 ranks" "$HETFL" compare "$TMP/w-2.h5" "$TMP/w-1.h5"
check "weighted stream: 3 ranks == 2 ranks" "$HETFL" compare "$TMP/w-2.h5" "$TMP/w-3.h5"
check "rate_spread: the arrivals differ from a common rate's" test \
  "$(cols "$TMP/w-1.h5" /stream arrived | tr '\n' ' ')" != "$(cols "$TMP/on.h5" /stream arrived | tr '\n' ' ')"
cp "$TMP/w-2.h5" "$TMP/res.h5"
run_mpi 3 run "$TMP/s.conf" --quiet "${WSTREAM[@]}" --resume "$TMP/res.h5" > "$TMP/res.log" 2>&1 ||
  { cat "$TMP/res.log"; bad "--resume on 3 ranks"; }
check "weighted stream: the checkpoint at round 6 resumed on 3 ranks (from 2) = uninterrupted" \
  "$HETFL" compare "$TMP/w-2.h5" "$TMP/res.h5"
check "stream: 9 /stream rows after the resume" test "$(nrows "$TMP/res.h5" /stream)" = 9
finish
