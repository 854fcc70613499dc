#!/usr/bin/env bash
# Decentralized mode priced per client (plan.c's cycle time, records.c) and
# dkt's distillation priced (dkt.c's dec_flops / dec_edge_bytes), against the
# formulas computed here by hand: two clients on the complete graph, one of a
# class "big" (10 GFLOP/s, width cap 1 → HeteroFL level a, links 100 up /
# 200 down Mbit/s, 10 ms) and one "small" (2 GFLOP/s, cap 1/4 → level c,
# 20 / 50 Mbit/s, 50 ms), unequal data (101 and 102 samples), MLP 784-16-10:
#   forward FLOPs a sample  a: 2·(784·16 + 16·10) = 25408   c: 2·(784·4 + 4·10) = 6352
#   parameters              a: 12730                        c: 3190
#   training                3 forward passes a sample, n_k samples a round (E = 1)
#   dkt.steps = S = 3, B = 10: the big client runs S·B forward passes as the
#   teacher and sends S·B·(784 + 10) float32 (inputs, logits) on top of its
#   model; the small client runs S·B soft-target steps (3 forward passes each).
#   Edge i→j: tc_i + latency_i + bits_ij / min(up_i, down_j) (degree 1); the
#   round's simulated time is the max cycle mean = max(tc_big, tc_small, (d_bs + d_sb)/2).
# Checked: /rounds.sim_time_s (2 rounds), /participation compute_s_model,
# bytes_up, energy_j (active_w · compute + radio_j_per_mb · (up + down) / 1e6)
# for D-PSGD (fedavg, the full model everywhere), dkt with S = 3 and with
# S = 0; and that dkt(S = 3) − dkt(S = 0) is the priced distillation.
. "$(dirname "$0")/lib.sh"
need_fmnist
cat > "$TMP/classes.csv" <<'CSV'
name,cores,gflops,mem_width,up_mbps,down_mbps,latency_s,active_w,idle_w,radio_j_per_mb,battery_j
big,1,10,1,100,200,0.01,5,1,0.1,1e12
small,1,2,0.25,20,50,0.05,2,0.5,0.3,1e12
CSV
cat > "$TMP/s.conf" <<EOC
[data]
dataset = fashion-mnist
partition = iid
train_samples = 203
test_fraction = 0.05
[model]
arch = mlp
hidden = 16
[federation]
mode = decentralized
strategy = dkt
clients = 2
clients_per_round = 2
rounds = 2
local_epochs = 1
batch_size = 10
lr = 0.05
eval_every = 2
[devices]
file = $TMP/classes.csv
classes = big:0.5,small:0.5
[topology]
kind = complete
[heterofl]
levels = a-c
mode = fix
scaler = no
[dkt]
steps = 3
EOC
# expected FILE MODE(dpsgd|dkt) S: "client compute_s bytes_up energy_j" lines, then "cycle T"
expected() {
  cols "$1" /clients id device_class samples | awk -v mode="$2" -v S="$3" '
    { id[NR] = $1; cls[NR] = $2; n[NR] = $3 }
    END {
      g["big"] = 10e9; g["small"] = 2e9; up["big"] = 100e6; up["small"] = 20e6; dn["big"] = 200e6; dn["small"] = 50e6
      lat["big"] = 0.01; lat["small"] = 0.05; aw["big"] = 5; aw["small"] = 2; rj["big"] = 0.1; rj["small"] = 0.3
      for (k = 1; k <= 2; k++) {
        wide = mode == "dpsgd" || cls[k] == "big"
        F = wide ? 25408 : 6352; P = wide ? 12730 : 3190
        fl[k] = 3 * F * n[k]
        if (mode == "dkt" && cls[k] == "big") fl[k] += S * 10 * F          # teacher forwards
        if (mode == "dkt" && cls[k] == "small") fl[k] += S * 10 * 3 * F    # student steps
        by[k] = 4 * P; if (mode == "dkt" && cls[k] == "big") by[k] += S * 10 * (784 + 10) * 4
        tc[k] = fl[k] / g[cls[k]]
      }
      for (k = 1; k <= 2; k++) {
        o = 3 - k
        printf "%d %.17g %d %.17g\n", id[k], tc[k], by[k], aw[cls[k]] * tc[k] + rj[cls[k]] * (by[k] + by[o]) / 1e6
        A = up[cls[k]] < dn[cls[o]] ? up[cls[k]] : dn[cls[o]]
        d[k] = tc[k] + lat[cls[k]] + 8 * by[k] / A
      }
      c = (d[1] + d[2]) / 2; if (tc[1] > c) c = tc[1]; if (tc[2] > c) c = tc[2]
      printf "cycle %.17g\n", c
    }'
}
# matches FILE MODE S: the records equal the formulas (1e-12 relative; bytes exactly)
matches() {
  expected "$1" "$2" "$3" > "$TMP/want"
  local c; c=$(awk '$1 == "cycle" { print $2 }' "$TMP/want")
  cols -x "$1" /rounds round sim_time_s | awk -v c="$c" '
    { d = $2 - $1 * c; if (d < 0) d = -d; if (d > 1e-12 * $1 * c) { bad = 1; print "  sim_time", $0, "want", $1 * c } }
    END { exit bad || NR != 2 }' || return 1
  cols -x "$1" /participation client compute_s_model bytes_up energy_j | awk '
    NR == FNR { if ($1 != "cycle") { t[$1] = $2; b[$1] = $3; e[$1] = $4 } next }
    { dt = $2 - t[$1]; de = $4 - e[$1]; if (dt < 0) dt = -dt; if (de < 0) de = -de
      if (dt > 1e-12 * t[$1] || $3 != b[$1] || de > 1e-12 * e[$1]) { bad = 1; print "  client", $0, "want", t[$1], b[$1], e[$1] }
      n++ }
    END { exit bad || n != 4 }' "$TMP/want" -
}
"$HETFL" run "$TMP/s.conf" --quiet -o "$TMP/dpsgd.h5" --set federation.strategy=fedavg > "$TMP/log" 2>&1 || cat "$TMP/log"
check "D-PSGD runs" test $? = 0
check "D-PSGD: each client timed with its own class (time, bytes, energy by hand)" matches "$TMP/dpsgd.h5" dpsgd 0
"$HETFL" run "$TMP/s.conf" --quiet -o "$TMP/dkt.h5" > "$TMP/log" 2>&1
check "dkt runs" test $? = 0
check "dkt, 3 distillation steps: priced by hand" matches "$TMP/dkt.h5" dkt 3
"$HETFL" run "$TMP/s.conf" --quiet -o "$TMP/dkt0.h5" --set dkt.steps=0 > "$TMP/log" 2>&1
check "dkt, no distillation: sub-models only" matches "$TMP/dkt0.h5" dkt 0
gap() {
  local a b want
  a=$(expected "$TMP/dkt.h5" dkt 3 | awk '$1 == "cycle" { print $2 }')
  b=$(expected "$TMP/dkt.h5" dkt 0 | awk '$1 == "cycle" { print $2 }')
  paste -d' ' <(cols -x "$TMP/dkt.h5" /rounds sim_time_s) <(cols -x "$TMP/dkt0.h5" /rounds sim_time_s) |
    awk -v w="$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.17g", a - b }')" '
      { d = ($1 - $2) - NR * w; if (d < 0) d = -d; if (!(w > 0) || d > 1e-9 * NR * w) bad = 1 } END { exit bad || NR != 2 }'
}
check "dkt's simulated time exceeds dkt without distillation by the priced distillation" gap
run_mpi 2 run "$TMP/s.conf" --quiet -o "$TMP/dkt2.h5" > /dev/null 2>&1
check "dkt priced: 2 ranks = 1 rank" "$HETFL" compare "$TMP/dkt.h5" "$TMP/dkt2.h5"
finish
