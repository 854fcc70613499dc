#!/usr/bin/env bash
# DP-FedAvg (src/strategies/dpfedavg.c), values against formulas:
#  - no noise and no effective clipping is FedAvg on equal client sizes
#    (tiny.conf: 3000 samples over 20 IID clients, K = 7: weights 1/K both ways),
#    within 1e-6;
#  - server noise: with lr = 0 every update is 0, so one round moves the model by
#    the noise alone, N(0, (z C / K)^2) per parameter: its standard deviation over
#    every parameter is z C / K within 2 %; per-client noise (dp.where = client)
#    averages K draws of N(0, z^2 C^2): z C / sqrt(K);
#  - clipping: one noiseless round moves the model by the mean of K updates each
#    of norm <= C: norm <= C, while FedAvg's moves by far more;
#  - /rounds.dp_epsilon grows each round, the root attribute equals the last row,
#    no noise gives inf;
#  - bitwise identical on 1, 2 and 3 ranks with noise on, either placement;
#  - the membership attack's rows (which rounds, which model, rank-count independent);
#  - Poisson client sampling (selection.policy = poisson): over 300 rounds the
#    count of selected clients has mean q N = 4 (within 0.35, 3.4 standard
#    errors) and variance q (1 − q) N = 3.2 (within 0.8), exceeds K = 4 in some
#    rounds, and /participation holds exactly those clients; ε is the
#    accountant's for q = K / N (the uniform run's, same q); a round nobody is
#    drawn in still moves the model by the server noise, std z C / K; bitwise
#    identical on 1, 2 and 3 ranks;
#  - bad keys exit 2 naming the key;
#  - hetfl report's privacy figures are the /privacy means and the root ε, and
#    hetfl-plot draws privacy.png for attacked runs only.
. "$(dirname "$0")/lib.sh"
need_fmnist
S=$HETFL_SRCDIR/tests/data/tiny.conf
DP=(--set federation.strategy=dpfedavg)
run1() { local o=$1; shift; "$HETFL" run "$S" --quiet -o "$TMP/$o.h5" "$@" > "$TMP/$o.log" 2>&1; }
model_close() { h5diff -d "$3" "$1" "$2" /model/final /model/final > /dev/null 2>&1; }
# std_of_diff A B: standard deviation of /model/final(B) − /model/final(A) over every parameter
std_of_diff() { paste <(model_values "$1") <(model_values "$2") | awk '{ d = $2 - $1; s += d; s2 += d * d; n++ }
  END { m = s / n; printf "%.6f\n", sqrt(s2 / n - m * m) }'; }
within() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { printf "  %s vs %s\n", a, b; exit !(a >= b * (1 - t) && a <= b * (1 + t)) }'; }

run1 avg --set federation.rounds=1
run1 dp-plain "${DP[@]}" --set dp.noise_multiplier=0 --set dp.clip=1e12 --set federation.rounds=1
check "dpfedavg, no noise, clip 1e12 = fedavg on equal sizes (1e-6)" model_close "$TMP/avg.h5" "$TMP/dp-plain.h5" 1e-6

Z=(--set federation.rounds=1 --set federation.lr=0 --set federation.momentum=0)
run1 x0 "${DP[@]}" "${Z[@]}" --set dp.noise_multiplier=0
run1 srv "${DP[@]}" "${Z[@]}" --set dp.noise_multiplier=1.5 --set dp.clip=2
run1 loc "${DP[@]}" "${Z[@]}" --set dp.noise_multiplier=1.5 --set dp.clip=2 --set dp.where=client
check "server noise: std of the model's move = z C / K = 3/7 (2 %)" \
  within "$(std_of_diff "$TMP/x0.h5" "$TMP/srv.h5")" "$(awk 'BEGIN { print 3 / 7 }')" 0.02
check "client noise: std of the model's move = z C / sqrt(K) = 3/sqrt(7) (2 %)" \
  within "$(std_of_diff "$TMP/x0.h5" "$TMP/loc.h5")" "$(awk 'BEGIN { print 3 / sqrt(7) }')" 0.02

# clipping: the move of one noiseless round; FedAvg's from the same start for scale
run1 init "${DP[@]}" --set federation.rounds=1 --set federation.lr=0 --set dp.noise_multiplier=0
run1 clip "${DP[@]}" --set federation.rounds=1 --set dp.noise_multiplier=0 --set dp.clip=0.05
norm_of_diff() { paste <(model_values "$1") <(model_values "$2") | awk '{ d = $2 - $1; s2 += d * d } END { printf "%.6f\n", sqrt(s2) }'; }
nc=$(norm_of_diff "$TMP/init.h5" "$TMP/clip.h5"); na=$(norm_of_diff "$TMP/init.h5" "$TMP/avg.h5")
check "clip 0.05: the round moves the model by <= 0.05 ($nc), more than half of it; fedavg by > 0.2 ($na)" \
  awk -v c="$nc" -v a="$na" 'BEGIN { exit !(c <= 0.05 * (1 + 1e-5) && c > 0.025 && a > 0.2) }'

E=("${DP[@]}" --set dp.noise_multiplier=1 --set federation.rounds=4 --set federation.eval_every=1)
run1 eps "${E[@]}"
eps=$(col "$TMP/eps.h5" /rounds dp_epsilon | tr '\n' ' ')
attr=$(h5dump -a dp_epsilon "$TMP/eps.h5" | sed -n 's/.*(0): //p')
echo "  dp_epsilon by round: $eps; attribute $attr"
check "dp_epsilon grows each round; the root attribute is the last row's" \
  awk -v e="$eps" -v a="$attr" 'BEGIN { n = split(e, v, " "); ok = n == 4
    for (i = 2; i <= n; i++) ok = ok && v[i] > v[i - 1]
    exit !(ok && v[1] > 0 && (a - v[n]) ^ 2 < 1e-8 * v[n] ^ 2) }'
check "no noise: epsilon is inf" bash -c "h5dump -a dp_epsilon '$TMP/x0.h5' | grep -q '(0): inf'"
check "fedavg: dp_epsilon column NaN" bash -c "[ \"\$(echo '$(col "$TMP/avg.h5" /rounds dp_epsilon)' | tr A-Z a-z)\" = nan ]"
check "fedavg: no dp_epsilon root attribute" bash -c "! h5dump -a dp_epsilon '$TMP/avg.h5' > /dev/null 2>&1"

R=("${DP[@]}" --set dp.noise_multiplier=0.8 --set dp.clip=0.5 --set federation.rounds=3)
run1 r1 "${R[@]}"
for n in 2 3; do
  run_mpi $n run "$S" --quiet -o "$TMP/r$n.h5" "${R[@]}" > /dev/null 2>&1
  check "server noise: $n ranks = 1 rank" "$HETFL" compare "$TMP/r1.h5" "$TMP/r$n.h5"
done
run_mpi 3 run "$S" --quiet -o "$TMP/r3a.h5" "${R[@]}" --set aggregation.topology=allreduce > /dev/null 2>&1
check "server noise: 3 ranks allreduce = 1 rank" "$HETFL" compare "$TMP/r1.h5" "$TMP/r3a.h5" --ignore-key aggregation.topology
run1 l1 "${R[@]}" --set dp.where=client
run_mpi 3 run "$S" --quiet -o "$TMP/l3.h5" "${R[@]}" --set dp.where=client > /dev/null 2>&1
check "client noise: 3 ranks = 1 rank" "$HETFL" compare "$TMP/l1.h5" "$TMP/l3.h5"

# the membership attack (src/privacy/mia.c) on an overfitting configuration (20 samples a
# client, 30 local epochs): an eavesdropper on client 0's uplink gets one /privacy row for
# each round client 0 uploaded, and only those; on the overfitted uploads it beats chance
# clearly (mean AUC > 0.75, members' loss below the non-members'), and local DP noise
# (dpfedavg, dp.where = client, z = 3) brings it back near chance (mean AUC < 0.65);
# the global-model attack writes a row each evaluation; the rows are the same on 1 and 3
# ranks (attack_s aside)
M=(--set privacy.attack=update --set federation.rounds=6 --set federation.local_epochs=30 --set data.train_samples=400
   --set federation.lr=0.1 --set privacy.samples=20)
run1 mia1 "${M[@]}"
want=$(cols "$TMP/mia1.h5" /participation round client | awk '$2 == 0 { print $1 }' | sort -nu | tr '\n' ' ')
got=$(cols "$TMP/mia1.h5" /privacy round | tr '\n' ' ')
check "update attack: a /privacy row for each round client 0 uploaded ('$want' = '$got')" test -n "$want" -a "$want" = "$got"
mean_auc() { cols "$1" /privacy observed loss_members loss_nonmembers auc |
  awk '{ n++; a += $4; ok += $1 == 1 && $2 < $3 } END { printf "%.4f %d\n", n ? a / n : 0, ok == n }'; }
read -r auc1 ok1 < <(mean_auc "$TMP/mia1.h5")
check "update attack beats chance on the overfitted uploads: mean AUC $auc1 > 0.75, members' loss lower" \
  awk -v a="$auc1" -v o="$ok1" 'BEGIN { exit !(a > 0.75 && o == 1) }'
run1 mia-ldp "${M[@]}" "${DP[@]}" --set dp.where=client --set dp.noise_multiplier=3 --set dp.clip=1
read -r auc2 ok2 < <(mean_auc "$TMP/mia-ldp.h5")
check "local DP (z = 3) brings it near chance: mean AUC $auc2 < 0.65" awk -v a="$auc2" 'BEGIN { exit !(a < 0.65) }'
run_mpi 3 run "$S" --quiet -o "$TMP/mia3.h5" "${M[@]}" > /dev/null 2>&1
check "update attack: /privacy rows the same on 3 ranks" test \
  "$(cols -x "$TMP/mia1.h5" /privacy round target observed samples auc balanced_accuracy tpr_at_1pct_fpr loss_members loss_nonmembers)" = \
  "$(cols -x "$TMP/mia3.h5" /privacy round target observed samples auc balanced_accuracy tpr_at_1pct_fpr loss_members loss_nonmembers)"
run1 mia-g --set privacy.attack=loss --set federation.rounds=5
check "loss attack: a row each evaluation (rounds 2, 4 and the last, 5)" test "$(cols "$TMP/mia-g.h5" /privacy round observed | tr '\n' ' ')" = "2 0 4 0 5 0 "
bad_key() { local key=$1; shift; "$HETFL" run "$S" --quiet -o "$TMP/bad.h5" "$@" > "$TMP/bad.log" 2>&1; local rc=$?
  grep -q "$key" "$TMP/bad.log" && [ $rc = 2 ] && [ ! -e "$TMP/bad.h5" ] || { cat "$TMP/bad.log"; echo "  rc $rc"; return 1; }; }
check "attack target that is not a client: exit 2" bad_key "privacy.target" --set privacy.attack=loss --set privacy.target=20
check "update attack on a strategy that trains itself: exit 2" bad_key "privacy.attack" --set privacy.attack=update --set federation.strategy=heterofl

# Poisson sampling: 20 clients, K = 4 (q = 0.2), 300 rounds of one local step each
PS=(--set selection.policy=poisson --set federation.clients_per_round=4 --set federation.rounds=300
    --set federation.eval_every=300 --set data.train_samples=320 --set federation.batch_size=16)
run1 pois "${PS[@]}"
cols "$TMP/pois.h5" /rounds selected > "$TMP/pois.sel"
stats=$(awk '{ s += $1; s2 += $1 * $1; n++; if ($1 > mx) mx = $1 } END { m = s / n; printf "%d %.4f %.4f %d %d", n, m, (s2 - n * m * m) / (n - 1), mx, s }' "$TMP/pois.sel")
echo "  poisson: rounds, mean, variance, max, total selected: $stats"
check "poisson: 300 rounds, mean count 4 +- 0.35, variance 3.2 +- 0.8, some round above K = 4" \
  awk -v s="$stats" 'BEGIN { split(s, v, " "); exit !(v[1] == 300 && (v[2] - 4) ^ 2 < 0.35 ^ 2 && (v[3] - 3.2) ^ 2 < 0.8 ^ 2 && v[4] > 4) }'
check "poisson: /participation holds every selected client ($(nrows "$TMP/pois.h5" /participation) rows)" \
  test "$(nrows "$TMP/pois.h5" /participation)" = "$(echo "$stats" | cut -d' ' -f5)"
PE=("${DP[@]}" --set dp.noise_multiplier=1 --set federation.rounds=3)
run1 pe-u "${PE[@]}"
run1 pe-p "${PE[@]}" --set selection.policy=poisson
eu=$(h5dump -m %.17g -a dp_epsilon "$TMP/pe-u.h5" | sed -n 's/.*(0): //p')
ep=$(h5dump -m %.17g -a dp_epsilon "$TMP/pe-p.h5" | sed -n 's/.*(0): //p')
check "poisson: epsilon is the accountant's for q = 7/20 ($ep = uniform's $eu)" test -n "$ep" -a "$ep" = "$eu"
# K = 1 of 20 (q = 0.05), lr 0: seed 3 draws one client in round 1 and nobody in round 2 (below);
# round 2 moves the model by the server noise alone, N(0, (z C / K)^2) = N(0, 3^2)
PZ=("${DP[@]}" --set selection.policy=poisson --set federation.clients_per_round=1 --set federation.lr=0
    --set federation.momentum=0 --set dp.noise_multiplier=1.5 --set dp.clip=2)
run1 pz1 "${PZ[@]}" --set federation.rounds=1
run1 pz2 "${PZ[@]}" --set federation.rounds=2
check "poisson, K = 1: round 1 draws 1 client, round 2 nobody" test "$(cols "$TMP/pz2.h5" /rounds selected | tr '\n' ' ')" = "1 0 "
check "poisson: an empty round still releases the noise, std z C / K = 3 (2 %)" \
  within "$(std_of_diff "$TMP/pz1.h5" "$TMP/pz2.h5")" 3 0.02
PR=("${DP[@]}" --set selection.policy=poisson --set dp.noise_multiplier=0.8 --set federation.rounds=3)
run1 pr1 "${PR[@]}"
for n in 2 3; do
  run_mpi $n run "$S" --quiet -o "$TMP/pr$n.h5" "${PR[@]}" > /dev/null 2>&1
  check "poisson with noise: $n ranks = 1 rank" "$HETFL" compare "$TMP/pr1.h5" "$TMP/pr$n.h5"
done

# bad keys of dpfedavg: exit 2, the key named
check "dp.clip = 0: exit 2" bad_key "dp.clip" "${DP[@]}" --set dp.clip=0
check "dp.delta = 1: exit 2" bad_key "dp.delta" "${DP[@]}" --set dp.delta=1
check "dp.where = both: exit 2" bad_key "dp.where" "${DP[@]}" --set dp.where=both
check "noise with power-of-choice sampling: exit 2" bad_key "selection.policy" "${DP[@]}" --set selection.policy=poc
check "noise with intermittent availability: exit 2" bad_key "availability.model" "${DP[@]}" --set availability.model=markov
# hetfl report: the attack's mean AUC and TPR over the /privacy rows, the run's ε
# (the root attribute), computed here from the tables (the CSV column by its header)
csv_col() { "$HETFL" report --csv "$1" | awk -F, -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
  NR == 2 { print $k }'; }
run1 mia-dp "${DP[@]}" --set dp.noise_multiplier=1 --set privacy.attack=loss --set federation.rounds=5
want=$(cols -x "$TMP/mia-dp.h5" /privacy auc tpr_at_1pct_fpr | awk '{ a += $1; t += $2; n++ } END { printf "%.6f %.6f", a / n, t / n }')
got=$(printf '%.6f %.6f' "$(csv_col "$TMP/mia-dp.h5" privacy_auc)" "$(csv_col "$TMP/mia-dp.h5" privacy_tpr_at_1pct_fpr)")
check "report: privacy_auc, privacy_tpr_at_1pct_fpr = the /privacy means ($got = $want)" test "$got" = "$want"
want=$(h5dump -m %.17g -a dp_epsilon "$TMP/mia-dp.h5" | sed -n 's/.*(0): //p' | xargs printf '%.6f')
got=$(printf '%.6f' "$(csv_col "$TMP/mia-dp.h5" final_dp_epsilon)")
check "report: final_dp_epsilon = the root attribute ($got = $want)" test "$got" = "$want"
check "report: the text table shows the attack" bash -c "'$HETFL' report '$TMP/mia-dp.h5' | grep -q 'attack AUC (mean)'"
py=""
for p in /usr/bin/python3 python3; do "$p" -c 'import h5py, matplotlib' 2> /dev/null && { py=$p; break; }; done
if [ -n "$py" ]; then  # hetfl-plot's privacy figure: only for runs with /privacy
  "$py" "$HETFL_SRCDIR/tools/hetfl-plot.py" -o "$TMP/png" --no-heatmap "$TMP/mia-dp.h5" "$TMP/avg.h5" > /dev/null 2>&1
  check "hetfl-plot wrote privacy.png" test "$(head -c 4 "$TMP/png/privacy.png" 2> /dev/null | tail -c 3)" = PNG
  "$py" "$HETFL_SRCDIR/tools/hetfl-plot.py" -o "$TMP/png2" --no-heatmap "$TMP/avg.h5" > /dev/null 2>&1
  check "hetfl-plot: no attack, no privacy figure" test ! -e "$TMP/png2/privacy.png" -a -e "$TMP/png2/accuracy.png"
fi
finish
