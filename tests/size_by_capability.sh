#!/usr/bin/env bash
# data.size_by_capability (data_load.c, hf_partition_by_rank in partition.c):
# client data set sizes tied to capability, end to end through /clients.samples.
#   - one device class: capability = client index (the width strategies' widest
#     tiers first).  8 LEAF users of 3, 7, 2, 5, 9, 4, 6, 1 samples (natural
#     partition, a test file given so nothing is held out): strong gives the
#     clients 9 7 6 5 4 3 2 1, weak 1 2 3 4 5 6 7 9, none keeps 3 7 2 5 9 4 6 1
#     (by hand);
#   - three classes (a devices file): big (mem_width 1, 5 GFLOP/s), fast (0.5,
#     50) and slow (0.5, 1), dealt by the seeded permutation.  Expected sizes
#     recomputed here in awk from /clients.device_class: clients ranked big,
#     fast, slow (mem_width before gflops: fast ranks below big though faster),
#     then by index; the sorted sizes dealt along that ranking (strong: largest
#     first; weak: smallest first);
#   - FjORD (widths 0.5, 1; the tiers from the classes' mem_width) with weak
#     sizes: bitwise identical on 1, 2 and 3 ranks, and across a resume from a
#     checkpoint at round 2 of 3 written on 2 ranks, resumed on 3.
. "$(dirname "$0")/lib.sh"
printf '%s\n' "0 3 0.1 0.2 0" "1 7 0.3 0.1 1" "2 2 0.5 0.9 2" "3 5 0.7 0.3 0" "4 9 0.2 0.8 1" \
  "5 4 0.9 0.6 2" "6 6 0.4 0.4 0" "7 1 0.6 0.5 1" > "$TMP/users"
leaf_json 2 < "$TMP/users" > "$TMP/train.json"
printf '%s\n' "name,cores,gflops,mem_width,up_mbps,down_mbps,latency_s,active_w,idle_w,radio_j_per_mb,battery_j" \
  "big,1,5,1,10,20,0.05,3,0.5,0.1,0" "fast,1,50,0.5,10,20,0.05,3,0.5,0.1,0" \
  "slow,1,1,0.5,10,20,0.05,3,0.5,0.1,0" > "$TMP/dev.csv"
cat > "$TMP/s.conf" <<EOC
[data]
dataset = leaf
path = $TMP/train.json
test_path = $TMP/train.json
partition = natural
[model]
arch = mlp
hidden = 4
[federation]
clients = 8
clients_per_round = 4
rounds = 2
batch_size = 2
lr = 0.1
eval_every = 2
[fjord]
widths = 0.5,1.0
kd = no
EOC
S=$TMP/s.conf
DEV=(--set devices.file="$TMP/dev.csv" --set devices.classes=big:0.25,fast:0.5,slow:0.25)
run1() { local out=$1; shift; run_mpi 1 run "$S" --quiet -o "$TMP/$out.h5" "$@" > "$TMP/$out.log" 2>&1 || cat "$TMP/$out.log"; }
sizes() { col "$1" /clients samples | tr '\n' ' ' | sed 's/ $//'; }

for v in none strong weak; do run1 one-$v --set data.size_by_capability=$v; done
check "one class, none: 3 7 2 5 9 4 6 1 ($(sizes "$TMP/one-none.h5"))" test "$(sizes "$TMP/one-none.h5")" = "3 7 2 5 9 4 6 1"
check "one class, strong: 9 7 6 5 4 3 2 1 ($(sizes "$TMP/one-strong.h5"))" test "$(sizes "$TMP/one-strong.h5")" = "9 7 6 5 4 3 2 1"
check "one class, weak: 1 2 3 4 5 6 7 9 ($(sizes "$TMP/one-weak.h5"))" test "$(sizes "$TMP/one-weak.h5")" = "1 2 3 4 5 6 7 9"

# expected FILE strong|weak: the sizes awk deals from the classes of FILE's /clients
expected() {
  cols "$1" /clients device_class | awk -v mode="$2" '
    BEGIN { split("3 7 2 5 9 4 6 1", s, " "); n = 8; rk["big"] = 0; rk["fast"] = 1; rk["slow"] = 2
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (s[j] > s[i]) { t = s[i]; s[i] = s[j]; s[j] = t } }
    { k[NR - 1] = $1 }
    END { r = 0
          for (c = 0; c <= 2; c++) for (i = 0; i < n; i++) if (rk[k[i]] == c) { r++; got[i] = mode == "strong" ? s[r] : s[n + 1 - r] }
          for (i = 0; i < n; i++) printf "%s%d", i ? " " : "", got[i] }'
}
for v in strong weak; do
  run1 dev-$v "${DEV[@]}" --set data.size_by_capability=$v
  want=$(expected "$TMP/dev-$v.h5" $v)
  check "three classes ($(col "$TMP/dev-$v.h5" /clients device_class | tr '\n' ' ')), $v: $want" \
    test "$(sizes "$TMP/dev-$v.h5")" = "$want"
done
check "the classes mix fast and slow with big (the ranking is tested)" \
  test "$(col "$TMP/dev-strong.h5" /clients device_class | sort -u | tr '\n' ' ')" = "big fast slow "

FJ=(--set federation.strategy=fjord --set data.size_by_capability=weak "${DEV[@]}")
ranks_equal fjord-weak "$S" "${FJ[@]}"
R=(--set federation.rounds=3 --set run.checkpoint_every=2)
if run_mpi 2 run "$S" --quiet -o "$TMP/r.h5" "${R[@]}" "${FJ[@]}" > "$TMP/r.log" 2>&1; then
  cp "$TMP/r.h5" "$TMP/r3.h5"
  run_mpi 3 run "$S" --quiet "${R[@]}" "${FJ[@]}" --resume "$TMP/r3.h5" > "$TMP/r.log" 2>&1 || cat "$TMP/r.log"
  check "fjord, weak sizes: resumed from round 2 on 3 ranks == uninterrupted on 2" "$HETFL" compare "$TMP/r.h5" "$TMP/r3.h5"
else cat "$TMP/r.log"; bad "fjord, weak sizes: reference run"; fi
finish
