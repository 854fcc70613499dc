#!/usr/bin/env bash
# DP-SGD on the clients (src/strategies/dpsgd.c), values against formulas:
#  - batch size 1, no noise and no effective clipping is FedAvg with batch size 1
#    and federation.clip > 0 (the engine's two-call step: gradient, then the SGD
#    step — DP-SGD's path with B = 1; a clip of 1e12 never bites), bit for bit:
#    with one example a batch, the per-example gradient is the batch gradient,
#    clipping to 1e12 leaves it, the sum of one and the division by 1 are exact;
#    the same with data.augment = crop-flip (dpsgd's own training augments);
#  - the update attack (privacy.attack = update) observes dpsgd's uploads: on those
#    two runs its /privacy rows are the same, bit for bit;
#  - clipping bites: a tiny clip moves the model far less than no clip;
#  - /rounds.dp_epsilon: with batch size 200 > n_k = 150 (tiny.conf: 3000 samples
#    over 20 IID clients) every client's sampling rate is q = 1, one step an
#    epoch, so the sampled Gaussian mechanism is the Gaussian mechanism, whose RDP
#    is alpha / (2 z^2) a step: after S steps, epsilon = min over the accountant's
#    orders (1.1, 1.2, ..., 10.9, 12, 13, ..., 63) of S alpha / (2 z^2) +
#    log(1/delta) / (alpha - 1), S the largest number of steps any client has run
#    by that round, counted here from /participation; every row within 1e-9;
#    with q < 1 (batch 16) the column grows, stays below the q = 1 value for the
#    same steps (it never falls: it stays when the worst client sits a round
#    out), and the root attribute equals the last row; no noise: inf;
#  - bitwise identical on 1, 2 and 3 ranks with noise (hetfl compare), and after
#    SIGTERM + --resume on 2 ranks (the clients' step counts, hence dp_epsilon,
#    come back from the checkpoint);
#  - bad keys exit 2 naming the key.
. "$(dirname "$0")/lib.sh"
need_fmnist
S=$HETFL_SRCDIR/tests/data/tiny.conf
DP=(--set federation.strategy=dpsgd)
run1() { local o=$1; shift; "$HETFL" run "$S" --quiet -o "$TMP/$o.h5" "$@" > "$TMP/$o.log" 2>&1; }
model_same() { h5diff "$1" "$2" /model/final /model/final > /dev/null 2>&1; }
norm_of_diff() { paste <(model_values "$1") <(model_values "$2") | awk '{ d = $2 - $1; s2 += d * d } END { printf "%.6f\n", sqrt(s2) }'; }

B1=(--set federation.rounds=2 --set federation.batch_size=1 --set federation.clip=1e12)
run1 avg1 "${B1[@]}"
run1 dp1 "${B1[@]}" "${DP[@]}" --set dpsgd.noise_multiplier=0 --set dpsgd.clip=1e12
check "dpsgd, B = 1, z = 0, clip 1e12 = fedavg with B = 1 (federation.clip 1e12), bitwise" model_same "$TMP/avg1.h5" "$TMP/dp1.h5"
# data.augment: dpsgd's own training crops and flips as the engine's does (it skipped
# the augmentation before), so the same pair stays equal with it, and it bites
run1 avg1a "${B1[@]}" --set data.augment=crop-flip
run1 dp1a "${B1[@]}" "${DP[@]}" --set dpsgd.noise_multiplier=0 --set dpsgd.clip=1e12 --set data.augment=crop-flip
check "with data.augment = crop-flip: dpsgd (B = 1, z = 0) = fedavg, bitwise" model_same "$TMP/avg1a.h5" "$TMP/dp1a.h5"
check "data.augment changes dpsgd's model (the check above can fail)" bash -c "! h5diff '$TMP/dp1.h5' '$TMP/dp1a.h5' /model/final /model/final > /dev/null 2>&1"
# the uplink eavesdropper (privacy.attack = update) sees dpsgd's uploads as the engine's:
# on the same two runs, the same /privacy rows, bit for bit
U=(--set privacy.attack=update --set privacy.target=8 --set privacy.samples=30)
run1 avg1u "${B1[@]}" "${U[@]}"
run1 dp1u "${B1[@]}" "${DP[@]}" --set dpsgd.noise_multiplier=0 --set dpsgd.clip=1e12 "${U[@]}"
prow() { cols -x "$1" /privacy round target observed samples auc balanced_accuracy tpr_at_1pct_fpr loss_members loss_nonmembers; }
check "update attack on dpsgd: a row for each round client 8 uploaded (1, 2), = fedavg's bitwise ($(nrows "$TMP/dp1u.h5" /privacy) rows)" \
  test "$(cols "$TMP/dp1u.h5" /privacy round observed | tr '\n' ' ')" = "1 1 2 1 " -a "$(prow "$TMP/avg1u.h5")" = "$(prow "$TMP/dp1u.h5")"

run1 init "${DP[@]}" --set federation.rounds=1 --set federation.lr=0 --set dpsgd.noise_multiplier=0
run1 free "${DP[@]}" --set federation.rounds=1 --set dpsgd.noise_multiplier=0 --set dpsgd.clip=1e12
run1 clip "${DP[@]}" --set federation.rounds=1 --set dpsgd.noise_multiplier=0 --set dpsgd.clip=0.01
nf=$(norm_of_diff "$TMP/init.h5" "$TMP/free.h5"); nc=$(norm_of_diff "$TMP/init.h5" "$TMP/clip.h5")
check "clip 0.01 moves the model by $nc, under a fifth of the unclipped $nf" \
  awk -v c="$nc" -v f="$nf" 'BEGIN { exit !(c > 0 && c < f / 5) }'

# epsilon at q = 1 against the Gaussian mechanism's closed form
Z=1.3
E=("${DP[@]}" --set dpsgd.noise_multiplier=$Z --set federation.rounds=5 --set federation.eval_every=1
   --set federation.batch_size=200 --set federation.local_epochs=2)
run1 eps "${E[@]}"
# worst cumulative steps by round, from /participation (round client steps)
worst=$(cols "$TMP/eps.h5" /participation round client steps |
  awk '{ s[$2] += $3; if ($1 != r && r) { print m } r = $1; if (s[$2] > m) m = s[$2] } END { print m }' | tr '\n' ' ')
eps=$(col -x "$TMP/eps.h5" /rounds dp_epsilon | tr '\n' ' ')
echo "  worst client's steps by round: $worst; dp_epsilon: $eps"
closed() { awk -v S="$1" -v z="$Z" 'BEGIN { best = 1e300
  for (i = 11; i <= 109; i++) { a = i / 10; e = S * a / (2 * z * z) + log(1e5) / (a - 1); if (e < best) best = e }
  for (a = 12; a <= 63; a++) { e = S * a / (2 * z * z) + log(1e5) / (a - 1); if (e < best) best = e }
  printf "%.17g\n", best }'; }
want=""; for s in $worst; do want="$want$(closed "$s") "; done
echo "  closed form: $want"
check "q = 1: dp_epsilon of every round = the Gaussian mechanism's epsilon at the worst client's steps (1e-9)" \
  awk -v g="$eps" -v w="$want" 'BEGIN { n = split(g, a, " "); m = split(w, b, " "); ok = n == 5 && m == 5
    for (i = 1; i <= n; i++) ok = ok && (a[i] - b[i]) ^ 2 <= 1e-18 * b[i] ^ 2
    exit !ok }'

run1 epsq "${DP[@]}" --set dpsgd.noise_multiplier=$Z --set federation.rounds=4 --set federation.eval_every=1
epsq=$(col -x "$TMP/epsq.h5" /rounds dp_epsilon | tr '\n' ' ')
worstq=$(cols "$TMP/epsq.h5" /participation round client steps |
  awk '{ s[$2] += $3; if (s[$2] > m) m = s[$2] } END { print m }')
attr=$(h5dump -m %.17g -a dp_epsilon "$TMP/epsq.h5" | sed -n 's/.*(0): //p')
bound=$(closed "$worstq")
echo "  q = 16/150: dp_epsilon $epsq; attribute $attr; q = 1 at $worstq steps: $bound"
check "q < 1: dp_epsilon never falls (it stays when the worst client sits out), grows overall, stays below q = 1's value, the root attribute is the last row's" \
  awk -v e="$epsq" -v a="$attr" -v b="$bound" 'BEGIN { n = split(e, v, " "); ok = n == 4 && v[1] > 0
    for (i = 2; i <= n; i++) ok = ok && v[i] >= v[i - 1]
    exit !(ok && v[n] > v[1] && v[n] < b && (a - v[n]) ^ 2 <= 1e-18 * v[n] ^ 2) }'
check "no noise: epsilon is inf" bash -c "h5dump -a dp_epsilon '$TMP/init.h5' | grep -q '(0): inf'"

R=("${DP[@]}" --set dpsgd.noise_multiplier=0.8 --set dpsgd.clip=0.5 --set federation.rounds=2)
run1 r1 "${R[@]}"
for n in 2 3; do
  run_mpi $n run "$S" --quiet -o "$TMP/r$n.h5" "${R[@]}" > /dev/null 2>&1
  check "noise on: $n ranks = 1 rank" "$HETFL" compare "$TMP/r1.h5" "$TMP/r$n.h5"
done

# SIGTERM after round 3 is printed: exit 3 with a checkpoint; resume on 2 ranks
T=("${DP[@]}" --set dpsgd.noise_multiplier=0.8 --set federation.rounds=8 --set federation.eval_every=1)
run1 t1 "${T[@]}"
"$HETFL" run "$S" -o "$TMP/term.h5" "${T[@]}" > "$TMP/term.log" 2>&1 & pid=$!
for i in $(seq 600); do grep -Eq "^round +3/" "$TMP/term.log" && break; sleep 0.05; done
kill -TERM $pid; wait $pid; rc=$?
check "SIGTERM: exit 3 (got $rc)" test $rc = 3
run_mpi 2 run "$S" --quiet --resume "$TMP/term.h5" "${T[@]}" > "$TMP/resume.log" 2>&1
check "resume on 2 ranks: exit 0" test $? = 0
check "resumed run = uninterrupted run (dp_epsilon included)" "$HETFL" compare "$TMP/t1.h5" "$TMP/term.h5"

bad_key() { local key=$1; shift; "$HETFL" run "$S" --quiet -o "$TMP/bad.h5" "$@" > "$TMP/bad.log" 2>&1; local rc=$?
  grep -q "$key" "$TMP/bad.log" && [ $rc = 2 ] && [ ! -e "$TMP/bad.h5" ] || { cat "$TMP/bad.log"; echo "  rc $rc"; return 1; }; }
check "dpsgd.clip = 0: exit 2" bad_key "dpsgd.clip" "${DP[@]}" --set dpsgd.clip=0
check "dpsgd.clip = -1: exit 2" bad_key "dpsgd.clip" "${DP[@]}" --set dpsgd.clip=-1
check "dpsgd.noise_multiplier = -0.5: exit 2" bad_key "dpsgd.noise_multiplier" "${DP[@]}" --set dpsgd.noise_multiplier=-0.5
check "dpsgd.delta = 1: exit 2" bad_key "dpsgd.delta" "${DP[@]}" --set dpsgd.delta=1
check "dpsgd with an upload codec: exit 2" bad_key "energy.compress" "${DP[@]}" --set energy.compress=qsgd
check "dpsgd with data transfer: exit 2" bad_key "availability.transfer" "${DP[@]}" --set availability.transfer=yes
finish
