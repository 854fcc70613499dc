#!/usr/bin/env bash
# scale.sh — a population above the old 100,000 cap (federation.clients up to
# 2^31-1, docs/scale.md): 120,000 registered clients, 16 a round, one
# Synthetic sample each, 3 rounds, two device classes (5:3) and two energy
# regions (1:2) dealt by the keyed bijection (devices.deal = auto above
# 100,000, deal.h; materialised data keeps the classes in an array):
#   - bitwise identical on 1, 2 and 3 ranks (hetfl compare);
#   - /clients: exactly 75,000 phone-low and 45,000 custom, 40,000 FR and
#     80,000 DE (exact quotas, by hand);
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
#     SIGTERM + --resume; auto == devices.deal = bijection
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
regions = FR:1,DE:2
[devices]
classes = phone-low:5,custom:3
CONF
ranks_equal big "$TMP/s.conf"
# the /clients rank column of the R-rank file at the block boundaries
for n in 2 3; do cols "$TMP/big-$n.h5" clients id rank device_class region > "$TMP/cl-$n.txt"; done
rank_of() { awk -v k="$2" '$1 == k { print $2 }' "$TMP/cl-$1.txt"; }
check "/clients has 120000 rows" test "$(wc -l < "$TMP/cl-2.txt")" = 120000
check "/clients: row i is client i (written 65,536 rows at a time)" \
  test "$(awk '$1 != NR - 1' "$TMP/cl-2.txt" | wc -l)" = 0
check "2 ranks: client 59999 on rank 0, 60000 on rank 1" test "$(rank_of 2 59999)$(rank_of 2 60000)" = 01
check "3 ranks: client 39999 on rank 0, 40000 on rank 1" test "$(rank_of 3 39999)$(rank_of 3 40000)" = 01
check "3 ranks: client 79999 on rank 1, 80000 on rank 2" test "$(rank_of 3 79999)$(rank_of 3 80000)" = 12
counts=$(awk '{ n[$3]++; n[$4]++ } END { printf "%d %d %d %d", n["phone-low"], n["custom"], n["FR"], n["DE"] }' "$TMP/cl-2.txt")
check "bijection deal (materialised data): classes 75000 phone-low, 45000 custom; regions 40000 FR, 80000 DE ($counts)" \
  test "$counts" = "75000 45000 40000 80000"
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

# three one-core classes (library classes of 2 and 4 cores would run OpenBLAS with
# that many threads on every rank of this oversubscribed test)
cat > "$TMP/cls.csv" <<'CSV'
name,cores,gflops,mem_width,up_mbps,down_mbps,latency_s,active_w,idle_w,radio_j_per_mb,battery_j
slow,1,0.8,1,0.665,3.177,0.05,1.5,0.3,0.1,41580
mid,1,4.5,1,3.286,4.318,0.05,2.5,0.4,0.1,55440
fast,1,10,1,6.279,9.913,0.05,4,0.5,0.1,62370
CSV
BIG=(--set data.on_demand=yes --set federation.clients=1000000 --set federation.clients_per_round=20
     --set data.synthetic_size_mu=1 --set data.synthetic_size_sigma=1 --set data.synthetic_size_min=6
     --set data.on_demand_eval_clients=100 --set federation.rounds=30 --set federation.local_epochs=200
     --set federation.batch_size=4 --set federation.eval_every=10 --set run.checkpoint_every=1
     --set devices.file="$TMP/cls.csv" --set devices.classes=slow:5,mid:3,fast:2 --set energy.regions=FR:1,DE:2)
ranks_equal od-big "$TMP/od.conf" "${BIG[@]}"
check "on demand: /clients has 1,000,000 rows" test "$(nrows "$TMP/od-big-1.h5" /clients)" = 1000000
SMALL=(--set devices.file="$TMP/cls.csv" --set devices.classes=slow:5,mid:3,fast:2 --set energy.regions=FR:1,DE:2)
"$HETFL" run "$TMP/od.conf" --quiet "${SMALL[@]}" -o "$TMP/od-auto.h5" > "$TMP/bij.log" 2>&1 &&
  "$HETFL" run "$TMP/od.conf" --quiet "${SMALL[@]}" --set devices.deal=permutation -o "$TMP/od-perm.h5" >> "$TMP/bij.log" 2>&1
check "devices.deal = auto is the permutation at 40 clients" \
  "$HETFL" compare "$TMP/od-auto.h5" "$TMP/od-perm.h5" --ignore-key devices.deal
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
