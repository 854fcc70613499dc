#!/usr/bin/env bash
# scale.sh — a population above the old 100,000 cap (federation.clients up to
# 2^31-1, docs/scale.md): 120,000 registered clients, 16 a round, one
# Synthetic sample each, 3 rounds.
#   - bitwise identical on 1, 2 and 3 ranks (hetfl compare);
#   - /clients has every registered client in id order (rows written by
#     blocks of 65,536), each on the rank the block
#     formula first(r) = ceil(r N / R) gives: by hand, 2 ranks split at
#     60,000, 3 ranks at 40,000 and 80,000;
#   - every round selects 16 distinct clients (the O(k) Floyd draw over the
#     120,000 ids; its set is pinned against a dense reference in test_rng).
# data.on_demand (data_ondemand.c, docs/scale.md):
#   - 40 clients of unequal sizes, non-iid Synthetic(1,1), evaluation on every
#     client: bitwise the run of the materialised generator (natural partition,
#     synthetic_devices = 40), whose samples it never stores; /clients' samples
#     column equal to that run's partition sizes;
#   - (n_k by hand from the RNG primitives and one client's rows against the
#     materialised set: test_data's on-demand tests);
#   - 1,000,000 registered clients, 20 a round, three device classes and two
#     energy regions dealt by the keyed bijection (devices.deal = auto above
#     100,000 clients, deal.h): identical on 1, 2 and 3 ranks and across
#     SIGTERM + --resume; /clients' classes exactly 500,000 / 300,000 /
#     200,000 (shares 5:3:2) and regions FR 333,333, DE 666,667 (1:2, the
#     remainder to the larger fraction); auto == devices.deal = bijection
#     there (the resumed run names it), and auto == devices.deal = permutation at 40 clients (the deal of
#     every run up to the old cap, kept bit for bit);
#   - every participant's steps follow its /clients n_k (40 clients).
. "$(dirname "$0")/lib.sh"
skip_if_sanitized  # 8 s of CPU in the regular build; three 120,000-client runs under ASan are minutes
start=$SECONDS
only=${SCALE_ONLY:-}  # one part alone (a mutant's): population (120,000 clients) or on-demand
if [ "$only" != on-demand ]; then
cat > "$TMP/s.conf" <<'CONF'
[run]
name = scale-test
seed = 5
[data]
dataset = synthetic
synthetic_iid = yes
synthetic_devices = 400
partition = iid
train_samples = 120000
[model]
arch = logreg
[federation]
clients = 120000
clients_per_round = 16
rounds = 3
eval_every = 3
[energy]
measure = no
CONF
ranks_equal big "$TMP/s.conf"
# the /clients rank column of the R-rank file at the block boundaries
for n in 2 3; do cols "$TMP/big-$n.h5" clients id rank > "$TMP/cl-$n.txt"; done
rank_of() { awk -v k="$2" '$1 == k { print $2 }' "$TMP/cl-$1.txt"; }
check "/clients has 120000 rows" test "$(wc -l < "$TMP/cl-2.txt")" = 120000
check "/clients: row i is client i (written 65,536 rows at a time)" \
  test "$(awk '$1 != NR - 1' "$TMP/cl-2.txt" | wc -l)" = 0
check "2 ranks: client 59999 on rank 0, 60000 on rank 1" test "$(rank_of 2 59999)$(rank_of 2 60000)" = 01
check "3 ranks: client 39999 on rank 0, 40000 on rank 1" test "$(rank_of 3 39999)$(rank_of 3 40000)" = 01
check "3 ranks: client 79999 on rank 1, 80000 on rank 2" test "$(rank_of 3 79999)$(rank_of 3 80000)" = 12
sel=$(cols "$TMP/big-1.h5" participation round client | sort -u | awk '{ n[$1]++ } END { for (r in n) print n[r] }' | sort -u)
check "every round: 16 distinct clients ($sel)" test "$sel" = 16
fi
echo "# elapsed $((SECONDS - start)) s"
[ "$only" = population ] && { finish; exit; }

# --- data.on_demand ---
cat > "$TMP/od.conf" <<'CONF'
[run]
name = od-test
seed = 4
[data]
dataset = synthetic
partition = natural
synthetic_devices = 40
on_demand_eval_clients = 40
[model]
arch = logreg
[federation]
clients = 40
clients_per_round = 7
rounds = 3
eval_every = 1
[energy]
measure = no
CONF
"$HETFL" run "$TMP/od.conf" --quiet -o "$TMP/mat.h5" > "$TMP/od.log" 2>&1 &&
  "$HETFL" run "$TMP/od.conf" --quiet --set data.on_demand=yes -o "$TMP/od.h5" >> "$TMP/od.log" 2>&1
check "on demand: 40 clients run both ways" test $? = 0
check "on demand == materialised natural partition (hetfl compare)" \
  "$HETFL" compare "$TMP/mat.h5" "$TMP/od.h5" --ignore-key data.on_demand
check "on demand: /clients samples == the materialised partition's sizes" \
  test "$(cols "$TMP/od.h5" clients id samples | md5sum)" = "$(cols "$TMP/mat.h5" clients id samples | md5sum)"
sizes=$(cols "$TMP/od.h5" clients samples | sort -un | wc -l)
check "on demand: clients of unequal sizes ($sizes distinct)" test "$sizes" -ge 10
# every participant trained 3 epochs of ceil(n_k / 4) steps, n_k its /clients row:
# the rows made when it trains are as many as hf_od_nk says
"$HETFL" run "$TMP/od.conf" --quiet --set data.on_demand=yes --set federation.local_epochs=3 \
  --set federation.batch_size=4 -o "$TMP/od-steps.h5" >> "$TMP/od.log" 2>&1
cols "$TMP/od-steps.h5" clients id samples > "$TMP/odcl.txt"
cols "$TMP/od-steps.h5" participation client steps > "$TMP/odpa.txt"
bad_rows=$(awk 'NR == FNR { n[$1] = $2; next } $2 != 3 * int((n[$1] + 3) / 4)' "$TMP/odcl.txt" "$TMP/odpa.txt" | wc -l)
check "on demand: 21 participation rows' steps = 3 ceil(n_k / 4) ($bad_rows differ)" \
  test "$bad_rows" = 0 -a "$(wc -l < "$TMP/odpa.txt")" = 21

BIG=(--set data.on_demand=yes --set federation.clients=1000000 --set federation.clients_per_round=20
     --set data.synthetic_size_mu=1 --set data.synthetic_size_sigma=1 --set data.synthetic_size_min=6
     --set data.on_demand_eval_clients=100 --set federation.rounds=30 --set federation.local_epochs=200
     --set federation.batch_size=4 --set federation.eval_every=10 --set run.checkpoint_every=1
     --set devices.classes=phone-low:5,phone-mid:3,laptop:2 --set energy.regions=FR:1,DE:2)
ranks_equal od-big "$TMP/od.conf" "${BIG[@]}"
check "on demand: /clients has 1,000,000 rows" test "$(nrows "$TMP/od-big-1.h5" /clients)" = 1000000
counts=$(cols "$TMP/od-big-2.h5" clients device_class | sort | uniq -c | awk '{ printf "%s=%s ", $2, $1 }')
check "bijection deal: classes $counts= laptop 200000, phone-low 500000, phone-mid 300000" \
  test "$counts" = "laptop=200000 phone-low=500000 phone-mid=300000 "
counts=$(cols "$TMP/od-big-2.h5" clients region | sort | uniq -c | awk '{ printf "%s=%s ", $2, $1 }')
check "bijection deal: regions $counts= DE 666667, FR 333333" test "$counts" = "DE=666667 FR=333333 "
SMALL=(--set devices.classes=phone-low:5,phone-mid:3,laptop:2 --set energy.regions=FR:1,DE:2)
"$HETFL" run "$TMP/od.conf" --quiet "${SMALL[@]}" -o "$TMP/od-auto.h5" > "$TMP/bij.log" 2>&1 &&
  "$HETFL" run "$TMP/od.conf" --quiet "${SMALL[@]}" --set devices.deal=permutation -o "$TMP/od-perm.h5" >> "$TMP/bij.log" 2>&1 &&
  "$HETFL" run "$TMP/od.conf" --quiet "${SMALL[@]}" --set devices.deal=bijection -o "$TMP/od-b40.h5" >> "$TMP/bij.log" 2>&1
check "devices.deal = auto is the permutation at 40 clients" \
  "$HETFL" compare "$TMP/od-auto.h5" "$TMP/od-perm.h5" --ignore-key devices.deal
check "40 clients: the bijection deals other ids than the permutation" \
  test "$(cols "$TMP/od-perm.h5" clients device_class | md5sum)" != "$(cols "$TMP/od-b40.h5" clients device_class | md5sum)"
# the interrupted run names devices.deal = bijection: equal to auto's run, the bijection above 100,000
"$HETFL" run "$TMP/od.conf" "${BIG[@]}" --set devices.deal=bijection -o "$TMP/od-term.h5" > "$TMP/term.log" \
  2> "$TMP/term.err" & pid=$!
wait_round 2 "$TMP/term.log"; kill -TERM $pid; wait $pid; rc=$?
check "on demand: SIGTERM exits 3 (got $rc)" test $rc = 3
run_mpi 2 run "$TMP/od.conf" --quiet "${BIG[@]}" --set devices.deal=bijection --resume "$TMP/od-term.h5" \
  > "$TMP/res.log" 2>&1
check "on demand: SIGTERM + --resume on 2 ranks == uninterrupted (devices.deal auto == bijection)" \
  "$HETFL" compare "$TMP/od-big-1.h5" "$TMP/od-term.h5" --ignore-key devices.deal
echo "# elapsed $((SECONDS - start)) s"
finish
