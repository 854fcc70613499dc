#!/usr/bin/env bash
# ondemand_data.sh — data.on_demand for a loaded data set (Fashion-MNIST) with
# data.partition = iid and dirichlet: client k's sample ids computed from
# (seed, k) when it trains (partition.c hf_odpart_*, data_ondemand.c,
# docs/scale.md); the ids themselves are pinned by hand in test_data:
#   - iid, 300 clients over data.train_samples = 1000: /clients samples 4 for
#     clients 0..99 and 3 for the other 200 (floor(1000/300) = 3, 1000 mod 300
#     = 100: by hand), the sizes of the materialised iid partition; identical
#     on 1, 2 and 3 ranks; the test set is the loaded one (test_fraction 0.1:
#     1,000 images);
#   - every participant trains epochs x ceil(n_k / B) steps: the rows it is
#     given are its n_k;
#   - dirichlet, 1,000 clients of 6 samples (6,000 > 1,000: the windows wrap
#     around), alpha 0.3: /clients samples 6 for every client; identical on 1,
#     2 and 3 ranks and across SIGTERM + --resume (on 2 ranks);
#   - 1,000,000 registered clients, 6 samples each, 20 a round, iid: 1 rank ==
#     2 ranks, /clients has 10^6 rows.
. "$(dirname "$0")/lib.sh"
need_fmnist
start=$SECONDS
cat > "$TMP/od.conf" <<'CONF'
[run]
name = od-fmnist
seed = 6
[data]
dataset = fashion-mnist
partition = iid
train_samples = 1000
test_fraction = 0.1
on_demand = yes
[model]
arch = logreg
[federation]
clients = 300
clients_per_round = 9
rounds = 3
eval_every = 1
batch_size = 2
local_epochs = 2
[energy]
measure = no
CONF
ranks_equal od-iid "$TMP/od.conf"
cols "$TMP/od-iid-1.h5" clients id samples > "$TMP/iid-cl.txt"
bad_sizes=$(awk '$2 != ($1 < 100 ? 4 : 3)' "$TMP/iid-cl.txt" | wc -l)
check "iid on demand: /clients samples 4 for clients 0..99, 3 for 100..299 ($bad_sizes differ of $(wc -l < "$TMP/iid-cl.txt"))" \
  test "$bad_sizes" = 0 -a "$(wc -l < "$TMP/iid-cl.txt")" = 300
"$HETFL" run "$TMP/od.conf" --set data.on_demand=no -o "$TMP/mat.h5" > "$TMP/mat.log" 2>&1
check "iid on demand: the materialised iid partition's sizes" \
  test "$(cols "$TMP/mat.h5" clients id samples | md5sum)" = "$(md5sum < "$TMP/iid-cl.txt")"
"$HETFL" run "$TMP/od.conf" -o "$TMP/od-log.h5" > "$TMP/od-log.txt" 2>&1
check "iid on demand: the loaded test set (1,000 images)" grep -Eq "train / test samples +\| 1000, dealt on demand / 1000 " "$TMP/od-log.txt"
cols "$TMP/od-iid-1.h5" participation client steps > "$TMP/pa.txt"
bad_steps=$(awk 'NR == FNR { n[$1] = $2; next } $2 != 2 * int((n[$1] + 1) / 2)' "$TMP/iid-cl.txt" "$TMP/pa.txt" | wc -l)
check "iid on demand: 27 participations' steps = 2 ceil(n_k / 2) ($bad_steps differ)" \
  test "$bad_steps" = 0 -a "$(wc -l < "$TMP/pa.txt")" = 27

DIR=(--set data.partition=dirichlet --set data.alpha=0.3 --set federation.clients=1000
     --set data.on_demand_client_samples=6)
ranks_equal od-dir "$TMP/od.conf" "${DIR[@]}"
sizes=$(cols "$TMP/od-dir-1.h5" clients samples | sort | uniq -c | awk '{ print $1 "x" $2 }')
check "dirichlet on demand: 1,000 clients of 6 samples ($sizes)" test "$sizes" = 1000x6
check "dirichlet on demand differs from iid on demand (other samples)" \
  sh -c "! '$HETFL' compare '$TMP/od-dir-1.h5' '$TMP/od-iid-1.h5' > /dev/null 2>&1"

# SIGTERM + --resume on 2 ranks: nothing of the partition is checkpointed (a
# function of the seed), the resumed run equals the uninterrupted one
RES=(--set federation.rounds=30 --set federation.local_epochs=300 --set run.checkpoint_every=1
     --set federation.eval_every=10)
"$HETFL" run "$TMP/od.conf" "${DIR[@]}" "${RES[@]}" -o "$TMP/term.h5" > "$TMP/term.log" 2> "$TMP/term.err" & pid=$!
wait_round 2 "$TMP/term.log"; kill -TERM $pid; wait $pid; rc=$?
check "dirichlet on demand: SIGTERM exits 3 (got $rc)" test $rc = 3
run_mpi 2 run "$TMP/od.conf" --quiet "${DIR[@]}" "${RES[@]}" --resume "$TMP/term.h5" > "$TMP/res.log" 2>&1
"$HETFL" run "$TMP/od.conf" --quiet "${DIR[@]}" "${RES[@]}" -o "$TMP/full.h5" >> "$TMP/res.log" 2>&1
check "dirichlet on demand: SIGTERM + --resume on 2 ranks == uninterrupted" \
  "$HETFL" compare "$TMP/full.h5" "$TMP/term.h5"

BIG=(--set federation.clients=1000000 --set data.on_demand_client_samples=6 --set federation.clients_per_round=20
     --set federation.eval_every=3)
for n in 1 2; do
  run_mpi $n run "$TMP/od.conf" --quiet "${BIG[@]}" -o "$TMP/big-$n.h5" > "$TMP/big.log" 2>&1 ||
    { cat "$TMP/big.log"; bad "10^6 clients on $n ranks"; }
done
check "iid on demand, 10^6 clients of 6 samples: 2 ranks == 1 rank" "$HETFL" compare "$TMP/big-1.h5" "$TMP/big-2.h5"
check "iid on demand: /clients has 1,000,000 rows" test "$(nrows "$TMP/big-1.h5" /clients)" = 1000000
echo "# elapsed $((SECONDS - start)) s"
finish
