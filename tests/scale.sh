#!/usr/bin/env bash
# scale.sh — a population above the old 100,000 cap (federation.clients up to
# 2^31-1, docs/scale.md): 120,000 registered clients, 16 a round, one
# Synthetic sample each, 3 rounds.
#   - bitwise identical on 1, 2 and 3 ranks (hetfl compare);
#   - /clients has every registered client, each on the rank the block
#     formula first(r) = ceil(r N / R) gives: by hand, 2 ranks split at
#     60,000, 3 ranks at 40,000 and 80,000;
#   - every round selects 16 distinct clients (the O(k) Floyd draw over the
#     120,000 ids; its set is pinned against a dense reference in test_rng).
. "$(dirname "$0")/lib.sh"
skip_if_sanitized  # 8 s of CPU in the regular build; three 120,000-client runs under ASan are minutes
start=$SECONDS
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
check "2 ranks: client 59999 on rank 0, 60000 on rank 1" test "$(rank_of 2 59999)$(rank_of 2 60000)" = 01
check "3 ranks: client 39999 on rank 0, 40000 on rank 1" test "$(rank_of 3 39999)$(rank_of 3 40000)" = 01
check "3 ranks: client 79999 on rank 1, 80000 on rank 2" test "$(rank_of 3 79999)$(rank_of 3 80000)" = 12
sel=$(cols "$TMP/big-1.h5" participation round client | sort -u | awk '{ n[$1]++ } END { for (r in n) print n[r] }' | sort -u)
check "every round: 16 distinct clients ($sel)" test "$sel" = 16
echo "# elapsed $((SECONDS - start)) s"
finish
