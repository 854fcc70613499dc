#!/usr/bin/env bash
# Energy budgets with width sub-models (energy.budget_strategy = width,
# energy.c's narrow_width, plan.c's plan_narrower / plan_narrow, hetero.c's
# narrower / narrow hooks), against a budget chain computed here by hand:
# four clients, two of class "big" (10 GFLOP/s, width cap 1 → HeteroFL level a,
# 5 W, 0.1 J/MB, battery 2.8 mJ) and two "small" (2 GFLOP/s, cap 1/2 → level b,
# 2 W, 0.3 J/MB, battery 2.7 mJ), unequal data (Synthetic(1,1)'s natural
# partition), MLP 60-16-10 with levels a-b-c = 16, 8, 4 hidden units, every
# client selected in each of 4 rounds:
#   forward FLOPs a sample  a: 2·(60·16 + 16·10) = 2240   b: 1120   c: 560
#   parameters              a: 1146   b: 578   c: 294   (71 u + 10)
#   compute_s  = 3 F_l n_k / (gflops·1e9)   (E = 1, no jitter)
#   energy_j   = active_w · compute_s + radio_j_per_mb · 2 · 4 P_l / 1e6
#   comm_s     = 2 latency + 4 P_l · 8 / down + 4 P_l · 8 / up
# A client pays its planned level if it can, else the widest narrower level
# whose round fits what is left of its battery, else it sits the round out
# (over_budget, 0 J).  FjORD's tiers are priced at their expected FLOPs over
# the per-minibatch widths (tier l: the mean of F_q / F_a over q ≥ l).
# Checked: /participation outcome, width, compute_s_model, bytes_up, comm_s,
# energy_j of every record (HeteroFL and FjORD; with energy.count_idle, idle
# power (1 and 0.5 mW) × comm_s added; exclude as the baseline, where
# the chain stops at the first unaffordable planned level); a client narrowed
# to b every round trains exactly the level-b sub-model (/model/final equals
# the run whose classes cap everyone at b); with energy.budget_strategy =
# steps, FjORD with one tier 1.0 equals FedAvg bitwise (the shortened update
# scaled by steps_full/steps, as the engine does); 1/2/3 ranks and SIGTERM-free
# resume (checkpoint at round 2, resumed on 3 ranks) equal; bad input (width
# with fedavg, sample / energy.compress with heterofl, anything but exclude
# with feddf) exits 2 naming the key.
. "$(dirname "$0")/lib.sh"
cat > "$TMP/classes.csv" <<'CSV'
name,cores,gflops,mem_width,up_mbps,down_mbps,latency_s,active_w,idle_w,radio_j_per_mb,battery_j
big,1,10,1,100,200,0.01,5,1,0.1,0.0028
small,1,2,0.5,20,50,0.05,2,0.5,0.3,0.0027
allb,1,10,0.5,100,200,0.01,5,1,0.1,0
CSV
cat > "$TMP/s.conf" <<EOC
[run]
seed = 5
[data]
dataset = synthetic
partition = natural
test_fraction = 0.2
[model]
arch = mlp
hidden = 16
[federation]
strategy = heterofl
clients = 4
clients_per_round = 4
rounds = 4
local_epochs = 1
batch_size = 10
lr = 0.05
eval_every = 2
[devices]
file = $TMP/classes.csv
classes = big:0.5,small:0.5
jitter = 0
[heterofl]
levels = a-b-c
mode = fix
scaler = no
[fjord]
widths = 0.25,0.5,1.0
[energy]
battery_budget = yes
budget_strategy = width
measure = no
EOC
S=$TMP/s.conf

# expected FILE STRATEGY(heterofl|fjord) ADAPT(width|exclude) [IDLE]: one line per
# /participation record "round client outcome width compute_s bytes_up comm_s energy_j"
expected() {
  { cols -x "$1" /clients id device_class samples energy_budget_j; echo "--"
    cols "$1" /participation round client; } | awk -v strat="$2" -v adapt="$3" -v idle="${4:-0}" '
    $1 == "--" { part = 1; next }
    !part { cls[$1] = $2; n[$1] = $3; rem[$1] = $4; next }
    { rows[++nr] = $1 " " $2 }
    END {
      g["big"] = 10e9; g["small"] = 2e9; aw["big"] = 5; aw["small"] = 2; rj["big"] = 0.1; rj["small"] = 0.3
      up["big"] = 100e6; up["small"] = 20e6; dn["big"] = 200e6; dn["small"] = 50e6; lat["big"] = 0.01; lat["small"] = 0.05
      iw["big"] = 0.001; iw["small"] = 0.0005    # idle power of the count_idle classes
      cap["big"] = 0; cap["small"] = 1
      u[0] = 16; u[1] = 8; u[2] = 4; w[0] = 1; w[1] = 0.5; w[2] = 0.25
      for (l = 0; l < 3; l++) { F[l] = 2 * (60 * u[l] + u[l] * 10); P[l] = 71 * u[l] + 10 }
      for (l = 0; l < 3; l++) {            # factor on training FLOPs of level / tier l
        if (strat == "heterofl") fs[l] = (3 * F[l]) / (3 * F[0])
        else { s = 0; for (q = l; q < 3; q++) s += (1 / (3 - l)) * ((3 * F[q]) / (3 * F[0])); fs[l] = s }
      }
      for (r = 1; r <= nr; r++) {
        split(rows[r], a, " "); k = a[2]; c = cls[k]; L = cap[c]
        t0 = (3 * F[0] * fs[L]) / (g[c]) * n[k]        # the device plan at the planned level
        pick = -1
        for (l = L; l <= (adapt == "width" ? 2 : L); l++) {
          t = l == L ? t0 : t0 * fs[l] / fs[L]
          by = 4 * P[l]
          e = aw[c] * t + rj[c] * (by + by) / 1e6
          if (e <= rem[k]) { pick = l; break }
        }
        if (pick < 0) { printf "%d %d over_budget %.17g 0 0 0 0\n", a[1], k, w[L]; continue }
        cs = 2 * lat[c] + by * 8 / dn[c] + by * 8 / up[c]
        if (idle) e += iw[c] * cs          # energy.count_idle: idle power over the transfers
        rem[k] -= e
        printf "%d %d completed %.17g %.17g %d %.17g %.17g\n", a[1], k, w[pick], t, by, cs, e
      }
    }'
}
# matches FILE STRATEGY ADAPT [IDLE]: every record equals the chain (1e-12 relative; bytes exactly);
# prints the records and the widths seen
matches() {
  expected "$1" "$2" "$3" "${4:-0}" > "$TMP/want"
  cols -x "$1" /participation round client outcome width compute_s_model bytes_up comm_s energy_j |
    awk 'function rel(x, y) { d = x - y; if (d < 0) d = -d; return d <= 1e-12 * (y < 0 ? -y : y) + 1e-300 }
      NR == FNR { want[FNR] = $0; next }
      { split(want[FNR], v, " ")
        ok = $1 == v[1] && $2 == v[2] && $3 == v[3] && $4 == v[4] && rel($5, v[5]) && $6 == v[6] && rel($7, v[7]) && rel($8, v[8])
        if (!ok) { bad = 1; print "  got  " $0; print "  want " want[FNR] }
        n++; seen[$3 " " $4]++ }
      END { for (s in seen) printf "  %s: %d\n", s, seen[s]; exit bad || n != 16 }' "$TMP/want" -
}
run() { local out=$1 n=$2; shift 2
        run_mpi "$n" run "$S" --quiet -o "$TMP/$out.h5" "$@" > "$TMP/$out.log" 2>&1 || { cat "$TMP/$out.log"; return 1; }; }

run het 1
check "heterofl, width budgets: every record priced by hand" matches "$TMP/het.h5" heterofl width
# the chain has both adaptations: a big client a → b, a small one b → c (c is no one's plan)
narrowed() {  # FILE
  cols "$1" /participation round client outcome width > "$TMP/rec"
  awk 'NR == FNR { if ($2 == "big") big[$1] = 1; next }
       $3 == "completed" && $4 == 0.5 && big[$2] { ab = 1 }  $3 == "completed" && $4 == 0.25 { bc = 1 }
       $3 == "over_budget" { ob = 1 }  END { exit !(ab && bc && ob) }' <(cols "$1" /clients id device_class) "$TMP/rec"
}
check "heterofl, width budgets: big clients narrowed a → b, small b → c, then over budget" narrowed "$TMP/het.h5"
# idle power 1 mW (big) and 0.5 mW (small): small enough that the chain still narrows
sed 's/,5,1,0.1,/,5,0.001,0.1,/; s/,2,0.5,0.3,/,2,0.0005,0.3,/' "$TMP/classes.csv" > "$TMP/idle.csv"
run idle 1 --set energy.count_idle=yes --set devices.file="$TMP/idle.csv"
check "heterofl, width budgets, count_idle: the narrower width's transfers idle-priced, by hand" \
  matches "$TMP/idle.h5" heterofl width 1
check "heterofl, width budgets, count_idle: clients narrowed there too" narrowed "$TMP/idle.h5"
run exc 1 --set energy.budget_strategy=exclude
check "heterofl, exclude: every record priced by hand" matches "$TMP/exc.h5" heterofl exclude
run fj 1 --set federation.strategy=fjord
check "fjord, width budgets: tiers priced at their expected FLOPs, by hand" matches "$TMP/fj.h5" fjord width

# narrowed to b every round (levels a100-b1: every client's quota is level a;
# batteries refilled every round; the big class's 1 mJ pays level b, not a)
# trains exactly the level-b sub-model
N=(--set federation.rounds=2 --set devices.classes=big --set energy.budget_period_h=1e-9 --set heterofl.levels=a100-b1)
sed 's/^big,1,10,1,100,200,0.01,5,1,0.1,0.0028$/big,1,10,1,100,200,0.01,5,1,0.1,0.001/' "$TMP/classes.csv" > "$TMP/c8.csv"
run nb 1 "${N[@]}" --set devices.file="$TMP/c8.csv"
run capb 1 "${N[@]}" --set devices.classes=allb --set energy.battery_budget=no
check "narrowed to b by its budget: width 0.5 in all 8 records" \
  test "$(col "$TMP/nb.h5" /participation width | sort | uniq -c | awk '{ print $1, $2 }')" = "8 0.5"
check "narrowed to b by its budget == capped at b: the same final model, bitwise" \
  h5diff "$TMP/nb.h5" "$TMP/capb.h5" /model/final /model/final

# energy.budget_strategy = steps with a width strategy: the shortened update is
# scaled by steps_full/steps as the engine's training does, so FjORD with the
# one tier 1.0 equals FedAvg bitwise (n_k weights both) while clients run short
ST=(--set energy.budget_strategy=steps --set federation.rounds=2)
run fa 1 "${ST[@]}" --set federation.strategy=fedavg
run fj1 1 "${ST[@]}" --set federation.strategy=fjord --set fjord.widths=1.0
shortened() {  # some completed record ran fewer steps than ceil(n_k / B)
  awk 'NR == FNR { full[$1] = int(($2 + 9) / 10); next } $3 == "completed" && $4 < full[$2] { s = 1 } END { exit !s }' \
    <(cols "$TMP/fa.h5" /clients id samples) <(cols "$TMP/fa.h5" /participation round client outcome steps)
}
check "budget steps: some clients ran shortened rounds" shortened
check "budget steps: fjord with one tier 1.0 == fedavg (Δ scaled by steps_full/steps), bitwise" \
  "$HETFL" compare "$TMP/fa.h5" "$TMP/fj1.h5" --ignore-key federation.strategy --ignore-key fjord.widths

# determinism: 2 and 3 ranks, and a resume on 3 ranks from a 2-rank checkpoint
run het2 2
run het3 3
check "width budgets: 2 ranks == 1 rank" "$HETFL" compare "$TMP/het.h5" "$TMP/het2.h5"
check "width budgets: 3 ranks == 1 rank" "$HETFL" compare "$TMP/het.h5" "$TMP/het3.h5"
if run res 2 --set run.checkpoint_every=2 && cp "$TMP/res.h5" "$TMP/res3.h5" &&
   run_mpi 3 run "$S" --quiet --set run.checkpoint_every=2 --resume "$TMP/res3.h5" > "$TMP/r.log" 2>&1; then
  check "width budgets: resumed from round 2 on 3 ranks == uninterrupted" "$HETFL" compare "$TMP/res.h5" "$TMP/res3.h5"
else cat "$TMP/r.log"; bad "width budgets: resume"; fi

# bad input: exit 2 naming the key, no results file
badrun() {  # NAME RANKS KEY [--set ...]
  local name=$1 n=$2 key=$3; shift 3
  run_mpi "$n" run "$S" --quiet -o "$TMP/$name.h5" "$@" > /dev/null 2> "$TMP/$name.err"; local rc=$?
  check "$name: exit 2 (got $rc), key '$key', no results file" \
    bash -c "[ $rc = 2 ] && grep -q \"key '$key'\" '$TMP/$name.err' && [ ! -e '$TMP/$name.h5' ]"
}
badrun width-fedavg 2 energy.budget_strategy --set federation.strategy=fedavg
badrun sample-heterofl 1 energy.budget_strategy --set energy.budget_strategy=sample
badrun compress-fjord 1 energy.compress --set federation.strategy=fjord --set energy.compress=qsgd
badrun steps-feddf 1 energy.budget_strategy --set federation.strategy=feddf --set energy.budget_strategy=steps \
  --set feddf.groups=a1-c1 --set feddf.server_samples=5 --set feddf.val_samples=5
finish
