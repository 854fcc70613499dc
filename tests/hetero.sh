#!/usr/bin/env bash
# Width-heterogeneous strategies (issue 7): HeteroFL and FjORD end to end on a
# small Fashion-MNIST run (MLP 784-64-64-10, 10 clients of 512 samples):
#   - width-1 HeteroFL == FedAvg, bit for bit (equal sample counts: count-based
#     and n_k-weighted averages coincide; 512 = 2^9 keeps the fixed-point scales
#     exactly proportional), and a mixed-width run differs (the check can fail);
#   - FjORD with one tier 1.0 and no KD == FedAvg, bit for bit;
#   - /participation: width and bytes_up of each client are its sub-model's,
#     compute time scales with the sub-model's FLOPs;
#   - device memory caps bound the width (phone-low: mem_width 0.25);
#   - /rounds_by_width has one row per width per evaluation;
#   - FedDF: one group + 0 distillation steps == FedAvg bit for bit; distillation
#     changes the model; /feddf rows per group; 1/2/3 ranks identical;
#   - dkt (decentralized knowledge transfer): 1/2/3 ranks identical, including
#     /rounds_by_width; distillation changes the result; needs decentralized mode;
#   - determinism across 1, 2 and 3 ranks and both topologies (dynamic levels,
#     label split on a shards partition; FjORD with KD and momentum, 1, 2 and 3
#     ranks), including
#     /rounds_by_width.
. "$(dirname "$0")/lib.sh"
need_fmnist

cat > "$TMP/s.conf" <<'EOF'
[run]
name = het
seed = 3
[data]
dataset = fashion-mnist
partition = iid
train_samples = 5120
test_fraction = 0.2
[model]
arch = mlp
hidden = 64,64
[federation]
clients = 10
clients_per_round = 5
rounds = 3
local_epochs = 1
batch_size = 16
lr = 0.05
EOF
S=$TMP/s.conf
run() { local out=$1 n=$2; shift 2; run_mpi "$n" run "$S" --quiet -o "$TMP/$out.h5" "$@" > "$TMP/$out.log" 2>&1 \
          || { cat "$TMP/$out.log"; return 1; }; }
same() { "$HETFL" compare "$@" > "$TMP/cmp.log" 2>&1 || { cat "$TMP/cmp.log"; return 1; }; }
differ() { ! "$HETFL" compare "$@" > /dev/null 2>&1; }
same_table() { cmp -s <(h5dump -d "$3" -y "$1" | tail -n +2) <(h5dump -d "$3" -y "$2" | tail -n +2); }

# --- equivalences with FedAvg -------------------------------------------------------
run avg 1
run het1 1 --set federation.strategy=heterofl --set heterofl.levels=a
check "heterofl, every client at width 1 == fedavg (bitwise)" \
  same "$TMP/avg.h5" "$TMP/het1.h5" --ignore-key federation.strategy --ignore-key heterofl.levels
run fj1 1 --set federation.strategy=fjord --set fjord.widths=1.0
check "fjord, single tier 1.0, no kd == fedavg (bitwise)" \
  same "$TMP/avg.h5" "$TMP/fj1.h5" --ignore-key federation.strategy --ignore-key fjord.widths
run hetae 1 --set federation.strategy=heterofl --set heterofl.levels=a-e
check "heterofl a-e differs from fedavg" \
  differ "$TMP/avg.h5" "$TMP/hetae.h5" --ignore-key federation.strategy --ignore-key heterofl.levels
# masked aggregation, by value: one round of widths 1/2 and 1/4 (levels b-c) from the
# initial model (the same run with lr = 0): the first hidden layer's units 32-63 are in
# no client's slice and keep their initial weights bit for bit; units 0-15, trained by
# every client, all change
HB=(--set federation.strategy=heterofl --set heterofl.levels=b-c --set federation.rounds=1)
run hetbc 1 "${HB[@]}"
run hetbc0 1 "${HB[@]}" --set federation.lr=0
hidden_rows_ok() {  # fc1.weight is 64 rows of 784; the values in row order
  paste <(model_values "$TMP/hetbc0.h5" | head -n $((64 * 784))) <(model_values "$TMP/hetbc.h5" | head -n $((64 * 784))) |
    awk '{ r = int((NR - 1) / 784); if (r >= 32 && $1 != $2) kept_bad++; if (r < 16) { n++; moved += $1 != $2 } }
         END { printf "  kept rows: %d changed; trained rows: %d of %d changed\n", kept_bad, moved, n
               exit !(NR == 64 * 784 && kept_bad == 0 && moved > 0.9 * n) }'
}
check "heterofl b-c: units no client holds keep their values, units all hold change" hidden_rows_ok

# --- per-width bytes and FLOPs in /participation --------------------------------------
run hetall 1 --set federation.strategy=heterofl --set heterofl.levels=a-b-c-d-e --set federation.clients_per_round=10 \
    --set devices.jitter=0
# (h5dump prints 6 significant digits)
# params of the width-w 784-u-u-10 MLP, u = ceil(64 w): u*785 + u*(u+1) + 10*(u+1)
paste <(col "$TMP/hetall.h5" /participation width) <(col "$TMP/hetall.h5" /participation bytes_up) \
      <(col "$TMP/hetall.h5" /participation compute_s_model) > "$TMP/pw.txt"
bytes_ok() {
  awk '{ w = $1; u = 64 * w; if (u != int(u)) u = int(u) + 1; if (u < 1) u = 1;
         want = 4 * (u * 785 + u * (u + 1) + 10 * (u + 1)); if ($2 != want) bad++; n++; seen[w] = 1 }
       END { k = 0; for (w in seen) k++; exit !(n == 30 && bad == 0 && k == 5) }' "$TMP/pw.txt"
}
check "bytes_up = 4 x params of each width's sub-model (5 widths)" bytes_ok
flops_ok() {  # compute_s_model ∝ training FLOPs per sample: 6 (784u + u^2 + 10u) (all clients: 512 samples, 1 class)
  awk '{ u = 64 * $1; if (u != int(u)) u = int(u) + 1; f = 6 * (784 * u + u * u + 10 * u);
         r = $3 / f; if (n++ == 0) r0 = r; if (r / r0 > 1 + 1e-4 || r / r0 < 1 - 1e-4) bad++ }
       END { exit !(n == 30 && bad == 0) }' "$TMP/pw.txt"
}
check "compute_s_model proportional to each width's training FLOPs" flops_ok
down=$(col "$TMP/hetall.h5" /rounds bytes_down | head -1)
up=$(col "$TMP/hetall.h5" /rounds bytes_up | head -1)
sum=$(cols "$TMP/hetall.h5" /participation round bytes_up | awk '$1 == 1 { s += $2 } END { print s }')
check "round bytes_down = bytes_up = sum of sub-model bytes ($down, $up, $sum)" \
  test "$down" = "$sum" -a "$up" = "$sum"
nrows=$(col "$TMP/hetall.h5" /rounds_by_width width | wc -l)
check "/rounds_by_width: 5 widths x 3 evaluations" test "$nrows" = 15
run capped 1 --set federation.strategy=heterofl --set heterofl.levels=a-b-c-d-e --set heterofl.mode=dynamic \
    --set devices.classes=phone-low:0.5,laptop:0.5
caps_ok() { col "$TMP/capped.h5" /participation width | awk '$1 > 0.25 { hi++ } $1 <= 0.25 { lo++ } END { exit !(hi > 0 && lo > 0) }'; }
check "dynamic levels with device classes: both capped and full-width clients train" caps_ok
run caponly 1 --set federation.strategy=heterofl --set heterofl.levels=a-b-c --set devices.classes=phone-low:1
w=$(col "$TMP/caponly.h5" /participation width | sort -u | tr '\n' ' ')
check "memory cap 0.25 (phone-low): widths seen are {0.25} (got: $w)" test "$w" = "0.25 "

# --- determinism across ranks and topologies ------------------------------------------
H="--set federation.strategy=heterofl --set heterofl.levels=a-b-c-d-e --set heterofl.mode=dynamic --set data.partition=shards"
run hd1 1 $H
run hd2 2 $H
run hd3 3 $H --set aggregation.topology=allreduce
check "heterofl dynamic, shards: 1 rank == 2 ranks" same "$TMP/hd1.h5" "$TMP/hd2.h5"
check "heterofl dynamic, shards: 1 rank == 3 ranks allreduce" \
  same "$TMP/hd1.h5" "$TMP/hd3.h5" --ignore-key aggregation.topology
check "heterofl: /rounds_by_width identical across ranks" same_table "$TMP/hd1.h5" "$TMP/hd3.h5" /rounds_by_width
F="--set federation.strategy=fjord --set fjord.kd=yes --set federation.momentum=0.5"
run fd1 1 $F
run fd2 2 $F
run fd3 3 $F --set aggregation.topology=allreduce
check "fjord kd (exact soft target) + momentum: 1 rank == 2 ranks" same "$TMP/fd1.h5" "$TMP/fd2.h5"
check "fjord kd + momentum: 1 rank == 3 ranks allreduce" \
  same "$TMP/fd1.h5" "$TMP/fd3.h5" --ignore-key aggregation.topology
check "fjord: /rounds_by_width identical across ranks" same_table "$TMP/fd1.h5" "$TMP/fd3.h5" /rounds_by_width
run fnk 1 --set federation.strategy=fjord
check "fjord kd changes the result" differ "$TMP/fd1.h5" "$TMP/fnk.h5" --ignore-key fjord.kd --ignore-key federation.momentum

bad_key() { local key=$1; shift; "$HETFL" validate "$S" "$@" > /dev/null 2> "$TMP/err"; local rc=$?
            [ "$rc" = 2 ] && grep -q "key '$key'" "$TMP/err"; }
# --- FedDF (feddf.c): groups, distillation, equivalence, determinism -----------------
run df0 1 --set federation.strategy=feddf --set feddf.groups=a --set feddf.steps=0
check "feddf, one group (a), 0 distillation steps == fedavg (bitwise)" \
  same "$TMP/avg.h5" "$TMP/df0.h5" --ignore-key federation.strategy --ignore-key feddf.groups --ignore-key feddf.steps
D="--set federation.strategy=feddf --set feddf.groups=a1-c1 --set feddf.val_every=20 --set feddf.patience=40"
run dfs0 1 $D --set feddf.steps=0
run dfd1 1 $D --set feddf.steps=60
check "feddf distillation changes the model" differ "$TMP/dfs0.h5" "$TMP/dfd1.h5" --ignore-key feddf.steps
dsteps=$(col "$TMP/dfd1.h5" /feddf distill_steps | tr '\n' ' ')
check "/feddf: 2 groups x 3 rounds, 20..60 steps each (got: $dsteps)" \
  awk -v s="$dsteps" 'BEGIN { n = split(s, a, " "); for (i = 1; i <= n; i++) if (a[i] < 20 || a[i] > 60) exit 1; exit n != 6 }'
mem=$(col "$TMP/dfd1.h5" /feddf server_mem_bytes | head -2 | tr '\n' ' ')
check "/feddf: server memory of group a > group c (got: $mem)" awk -v s="$mem" 'BEGIN { split(s, a, " "); exit !(a[1] > a[2] && a[2] > 0) }'
w=$(col "$TMP/dfd1.h5" /participation width | sort -u | tr '\n' ' ')
check "feddf: clients train width 0.25 and 1 (got: $w)" test "$w" = "0.25 1 "
run dfd2 2 $D --set feddf.steps=60 --set data.partition=shards --set federation.momentum=0.5
run dfd3 3 $D --set feddf.steps=60 --set data.partition=shards --set federation.momentum=0.5 --set aggregation.topology=allreduce
run dfd1s 1 $D --set feddf.steps=60 --set data.partition=shards --set federation.momentum=0.5
check "feddf: 1 rank == 2 ranks" same "$TMP/dfd1s.h5" "$TMP/dfd2.h5"
check "feddf: 1 rank == 3 ranks allreduce" same "$TMP/dfd1s.h5" "$TMP/dfd3.h5" --ignore-key aggregation.topology
check "feddf: /rounds_by_width identical across ranks" same_table "$TMP/dfd1s.h5" "$TMP/dfd3.h5" /rounds_by_width
check "feddf.groups without a is bad input" bad_key feddf.groups --set federation.strategy=feddf --set feddf.groups=b-c
bad_run() { local key=$1; shift; "$HETFL" run "$S" --quiet -o "$TMP/bad.h5" "$@" > /dev/null 2> "$TMP/err"; local rc=$?
            [ "$rc" = 2 ] && grep -q "key '$key'" "$TMP/err"; }
check "feddf server set beyond the data is bad input (exit 2)" bad_run feddf.server_samples --set federation.strategy=feddf \
  --set data.train_samples=0

# --- dkt (dkt.c): decentralized knowledge transfer -----------------------------------
K="--set federation.mode=decentralized --set federation.strategy=dkt --set heterofl.levels=a-c --set topology.kind=ring"
K="$K --set data.partition=shards --set dkt.steps=5"
run dk1 1 $K
run dk2 2 $K
run dk3 3 $K --set aggregation.topology=allreduce
check "dkt: 1 rank == 2 ranks" same "$TMP/dk1.h5" "$TMP/dk2.h5"
check "dkt: 1 rank == 3 ranks allreduce" same "$TMP/dk1.h5" "$TMP/dk3.h5" --ignore-key aggregation.topology
check "dkt: /rounds_by_width identical across ranks" same_table "$TMP/dk1.h5" "$TMP/dk3.h5" /rounds_by_width
nrows=$(col "$TMP/dk1.h5" /rounds_by_width width | wc -l)
check "dkt: /rounds_by_width: 2 widths x 3 evaluations (got $nrows)" test "$nrows" = 6
w=$(col "$TMP/dk1.h5" /participation width | sort -u | tr '\n' ' ')
check "dkt: clients train width 0.25 and 1 (got: $w)" test "$w" = "0.25 1 "
run dk0 1 $K --set dkt.steps=0
check "dkt distillation changes the narrow models" differ "$TMP/dk1.h5" "$TMP/dk0.h5" --ignore-key dkt.steps
check "dkt without decentralized mode is bad input" bad_key federation.strategy --set federation.strategy=dkt

# --- bad input: exit 2 with the key named -------------------------------------------
check "heterofl.levels = a2-x8 is bad input" bad_key heterofl.levels --set federation.strategy=heterofl --set heterofl.levels=a2-x8
check "fjord.widths not ascending is bad input" bad_key fjord.widths --set federation.strategy=fjord --set fjord.widths=0.5,0.2
check "fjord.tiers of the wrong length is bad input" bad_key fjord.tiers --set federation.strategy=fjord --set fjord.tiers=1,2
finish
