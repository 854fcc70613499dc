#!/usr/bin/env bash
# Values pinned independently, end to end through the hetfl binary, on a problem
# small enough to compute by hand: logistic regression (2 features, 3 classes) on a
# LEAF file of two clients with UNEQUAL sizes, n_0 = 3 and n_1 = 1.  Each client
# holds copies of one sample, so its local steps do not depend on the shuffle and
# tests/fl_reference.awk (double precision, written from the papers' formulas)
# gives the exact expected model.  Checked against it:
#   - the final model of FedAvg (n_k weights), FedAvg with momentum and weight
#     decay, with gradient clipping, FedProx (proximal term), FedNova (a_k for plain
#     SGD, momentum and a proximal solver), SCAFFOLD (unweighted server step, control
#     variates over two rounds), FedAvgM and FedAdam server optimizers, partial work
#     under a deadline and over-commitment;
#   - /participation.local_loss and /rounds.train_loss;
#   - every /participation and /rounds column of a run recomputed from the inputs
#     (device class, model size, data) or from other columns: steps, compute,
#     communication, energy (with and without energy.count_idle), carbon, bytes,
#     counts, simulated time, test loss and accuracy of the final model;
#   - carbon from an hourly trace, per region, at the hour in progress.
. "$(dirname "$0")/lib.sh"
REF=$HETFL_SRCDIR/tests/fl_reference.awk
# client n_k x_1 x_2 y (n_k copies of one sample); the test set: x_1 x_2 y
printf '0 3 1.0 -0.5 0\n1 1 0.25 0.75 2\n' > "$TMP/clients"
leaf_json 2 < "$TMP/clients" > "$TMP/train.json"
printf '1.0 0.0 0\n0.0 1.0 2\n-1.0 0.5 1\n0.5 0.5 2\n0.2 -0.9 0\n' > "$TMP/testset"
awk '{ x = x (NR > 1 ? ", " : "") "[" $1 ", " $2 "]"; y = y (NR > 1 ? ", " : "") $3 }
  END { printf "{\"users\": [\"t\"], \"num_samples\": [%d], \"user_data\": {\"t\": {\"x\": [%s], \"y\": [%s]}}}\n", NR, x, y }' \
  "$TMP/testset" > "$TMP/test.json"
cat > "$TMP/s.conf" <<EOF
[run]
name = values
seed = 7
[data]
dataset = leaf
path = $TMP/train.json
test_path = $TMP/test.json
partition = natural
[model]
arch = logreg
[federation]
clients = 2
clients_per_round = 2
rounds = 1
local_epochs = 1
batch_size = 2
lr = 0.5
[devices]
jitter = 0
[energy]
measure = no
EOF
D=2 C=3 P=9
run() { local out=$1; shift; "$HETFL" run "$TMP/s.conf" --quiet -o "$TMP/$out.h5" "$@" > "$TMP/$out.log" 2>&1 ||
          { cat "$TMP/$out.log"; return 1; }; }
# the initial model: one round with lr = 0 leaves it unchanged
run x0 --set federation.lr=0 || bad "run with lr = 0"
model_values "$TMP/x0.h5" > "$TMP/x0"
check "initial model: $P values" test "$(wc -l < "$TMP/x0")" = $P

# same_losses FILE REF_OUT: local_loss of every (round, client) and train_loss of every round
same_losses() {
  { cols -x "$1" /participation round client local_loss | sed 's/^/p /'
    cols -x "$1" /rounds round train_loss | sed 's/^/r /'; } | awk '
    FNR == NR { if ($1 == "loss") want["p " $2 " " $3] = $4; if ($1 == "train_loss") want["r " $2] = $3; next }
    { key = $1 " " $2 ($1 == "p" ? " " $3 : ""); v = $1 == "p" ? $4 : $3
      if (!(key in want)) { bad = 1; print "  no reference for " key; next }
      d = v - want[key]; if (d < 0) d = -d
      if (d > 1e-5 + 1e-5 * want[key]) { bad = 1; print "  " key ": hetfl " v ", reference " want[key] } n++ }
    END { exit bad || n == 0 }' "$2" -
}
# case NAME "REFERENCE -v ARGS" [--set K=V]...: run hetfl and the reference, compare
case_() {
  local name=$1 refargs=$2; shift 2
  run "$name" "$@" || { bad "$name: hetfl run"; return; }
  # shellcheck disable=SC2086
  awk -f "$SOFTMAX_REF" -f "$REF" -v D=$D -v C=$C -v lr=0.5 -v E=1 -v B=2 -v rounds=1 $refargs "$TMP/x0" "${CLIENTS:-$TMP/clients}" \
    > "$TMP/$name.ref" || { bad "$name: reference"; return; }
  check "$name: final model = reference" model_matches "$TMP/$name.h5" "$TMP/$name.ref"
  check "$name: local_loss and train_loss = reference" same_losses "$TMP/$name.h5" "$TMP/$name.ref"
}

# --- strategies and local solvers ---------------------------------------------------
case_ fedavg "-v strategy=fedavg"
case_ fedavg-mom-wd "-v strategy=fedavg -v rho=0.5 -v wd=0.1 -v E=2 -v rounds=2" \
  --set federation.momentum=0.5 --set federation.weight_decay=0.1 --set federation.local_epochs=2 \
  --set federation.rounds=2
case_ fedavg-clip "-v strategy=fedavg -v clip=0.3 -v rho=0.5 -v E=2" --set federation.clip=0.3 \
  --set federation.momentum=0.5 --set federation.local_epochs=2
case_ fedprox "-v strategy=fedprox -v mu=0.5 -v E=2 -v rounds=2" --set federation.strategy=fedprox \
  --set fedprox.mu=0.5 --set federation.local_epochs=2 --set federation.rounds=2
# FedNova: client 0 takes 2 steps a round (batches of 2 and 1), client 1 one step
case_ fednova "-v strategy=fednova" --set federation.strategy=fednova
case_ fednova-mom "-v strategy=fednova -v rho=0.5 -v E=2" --set federation.strategy=fednova \
  --set federation.momentum=0.5 --set federation.local_epochs=2
case_ fednova-prox "-v strategy=fednova -v mu=0.3" --set federation.strategy=fednova --set fednova.mu=0.3
case_ scaffold "-v strategy=scaffold -v rounds=2" --set federation.strategy=scaffold --set federation.rounds=2
case_ fedavgm "-v strategy=fedavg -v sopt=avgm -v slr=0.7 -v b1=0.6 -v rounds=2" --set server.optimizer=avgm \
  --set server.lr=0.7 --set server.beta1=0.6 --set federation.rounds=2
case_ fedadam "-v strategy=fedavg -v sopt=adam -v slr=0.1 -v b1=0.9 -v b2=0.99 -v tau=0.001 -v rounds=2" \
  --set server.optimizer=adam --set server.lr=0.1 --set federation.rounds=2
case_ fedadam-v0 "-v strategy=fedavg -v sopt=adam -v slr=0.1 -v b1=0.9 -v b2=0.99 -v tau=0.001 -v rounds=2 -v vinit=zero" \
  --set server.optimizer=adam --set server.lr=0.1 --set federation.rounds=2 --set server.v_init=zero
# a slow device (1e-6 GFLOP/s: 36 FLOP a sample take 0.036 s) and a 0.2 s deadline
# with partial work: client 0 (3 samples) fits its first step (2 samples, 0.072 s
# after the 0.1000346 s of transfers) but not the second; client 1 completes
printf '0 3 1.0 -0.5 0 1\n1 1 0.25 0.75 2\n' > "$TMP/clients-partial"
CLIENTS=$TMP/clients-partial case_ partial "-v strategy=fedavg" --set devices.gflops=1e-6 \
  --set federation.deadline_s=0.2 --set federation.partial_work=yes
check "partial: outcomes partial (1 step) and completed (1 step)" \
  test "$(cols "$TMP/partial.h5" /participation client outcome steps | tr '\n' ' ')" = "0 partial 1 1 completed 1 "
check "partial: compute_s_model of the steps run (2 and 1 samples x 0.036 s); round = slowest" awk '
  function near(a, b) { d = a - b; if (d < 0) d = -d; return d < 1e-12 }
  FNR == NR { c[$1] = $2; comm = $3; next } { t = $1 }
  END { exit !(near(c[0], 0.072) && near(c[1], 0.036) && near(t, comm + 0.072)) }' \
  <(cols -x "$TMP/partial.h5" /participation client compute_s_model comm_s) <(col -x "$TMP/partial.h5" /rounds sim_time_s)
# over-commitment: K = 1, f = 2 selects both and keeps the first to finish (client 1)
printf '1 1 0.25 0.75 2\n' > "$TMP/clients-one"
run overcommit --set devices.gflops=1e-6 --set federation.clients_per_round=1 --set federation.overcommit=2 ||
  bad "overcommit: run"
awk -f "$SOFTMAX_REF" -f "$REF" -v D=$D -v C=$C -v lr=0.5 -v E=1 -v B=2 -v rounds=1 -v strategy=fedavg "$TMP/x0" "$TMP/clients-one" \
  > "$TMP/overcommit.ref"
check "overcommit: final model = client 1's update alone" model_matches "$TMP/overcommit.h5" "$TMP/overcommit.ref"
check "overcommit: client 0 overcommitted, client 1 completed" \
  test "$(cols "$TMP/overcommit.h5" /participation client outcome | tr '\n' ' ')" = "0 overcommitted 1 completed "

# --- every column of /participation and /rounds, recomputed -------------------------
# class 'default' from the devices.* keys: 10 GFLOP/s, up 10 / down 50 Mbit/s, latency
# 0.05 s, 5 W active, 0.5 W idle, 0.1 J/MB; carbon intensity 475 g/kWh; training costs
# 6 D C = 36 FLOP a sample; every transfer is the model, 4 P = 36 bytes.
cols_ok() {  # FILE IDLE(0/1) GFLOPS [CARBON_INTENSITY]
  local f=$1 idle=$2 gf=$3 ci=${4:-475}
  cols -x "$f" /clients id samples > "$TMP/cl"
  cols -x "$f" /participation round client outcome steps compute_s_model comm_s energy_j local_loss width \
    bytes_up carbon_g staleness samples_data bytes_data > "$TMP/pa"
  cols -x "$f" /rounds round sim_time_s available selected completed dropped late train_loss bytes_up bytes_down \
    energy_j carbon_g > "$TMP/ro"
  awk -v idle="$idle" -v gf="$gf" -v ci="$ci" -v P=$P -v D=$D -v C=$C -v B=2 -v E=1 '
    function near(a, b) { d = a - b; if (d < 0) d = -d; return d <= 1e-12 + 1e-9 * (b < 0 ? -b : b) }
    function no(what) { bad = 1; print "  " what }
    FILENAME ~ /cl$/ { n[$1] = $2; next }
    FILENAME ~ /pa$/ {
      r = $1; k = $2; rows[r]++
      want_steps = E * int((n[k] + B - 1) / B)
      if ($3 != "completed") no("round " r " client " k ": outcome " $3)
      if ($4 != want_steps) no("client " k ": steps " $4 ", want " want_steps)
      comp = 6 * D * C * n[k] * E / (gf * 1e9)
      comm = 2 * 0.05 + 4 * P * 8 / 50e6 + 4 * P * 8 / 10e6
      en = 5 * comp + 0.1 * (8 * P) / 1e6 + (idle ? 0.5 * comm : 0)
      if (!near($5, comp)) no("client " k ": compute_s_model " $5 ", want " comp)
      if (!near($6, comm)) no("client " k ": comm_s " $6 ", want " comm)
      if (!near($7, en)) no("client " k ": energy_j " $7 ", want " en)
      if ($9 != 1) no("client " k ": width " $9)
      if ($10 != 4 * P) no("client " k ": bytes_up " $10)
      if (!near($11, $7 * ci / 3.6e6)) no("client " k ": carbon_g " $11 " != energy_j x " ci " g/kWh")
      if ($12 != 0 || $13 != 0 || $14 != 0) no("client " k ": staleness/samples_data/bytes_data not 0")
      e[r] += $7; cg[r] += $11; up[r] += $10; done[r] += $3 == "completed"; late[r] += $3 == "late"
      wl[r] += n[k] * $8; ns[r] += n[k]; if (comm + comp > dur[r]) dur[r] = comm + comp
      next }
    { r = $1; nr++; t += dur[r]
      if (!near($2, t)) no("round " r ": sim_time_s " $2 ", want " t)
      if ($3 != 2) no("round " r ": available " $3)
      if ($4 != rows[r]) no("round " r ": selected " $4 ", rows " rows[r])
      if ($5 != done[r]) no("round " r ": completed " $5 ", want " done[r])
      if ($6 != rows[r] - done[r] - late[r]) no("round " r ": dropped " $6)
      if ($7 != late[r]) no("round " r ": late " $7)
      if (!near($8, wl[r] / ns[r])) no("round " r ": train_loss " $8 ", want " wl[r] / ns[r])
      if ($9 != up[r]) no("round " r ": bytes_up " $9 ", want " up[r])
      if ($10 != rows[r] * 4 * P) no("round " r ": bytes_down " $10)
      if (!near($11, e[r])) no("round " r ": energy_j " $11 ", want " e[r])
      if (!near($12, cg[r])) no("round " r ": carbon_g " $12 ", want " cg[r]) }
    END { exit bad || nr == 0 }' "$TMP/cl" "$TMP/pa" "$TMP/ro"
}
check "fedavg: every /participation and /rounds column recomputed" cols_ok "$TMP/fedavg.h5" 0 10
for f in fedavg-mom-wd fedprox fednova scaffold fedadam partial overcommit; do
  check "$f: /rounds columns recomputed from /participation and /clients" \
    tables_consistent "$TMP/$f.h5" 1 "$([ $f = scaffold ] && echo 2 || echo 1)"
done
run idle --set energy.count_idle=yes --set federation.rounds=2 --set devices.gflops=0.001 \
  --set energy.carbon_intensity=300 || bad "count_idle: run"
check "energy.count_idle: energy_j = active + radio + idle_w x comm_s (300 g/kWh)" cols_ok "$TMP/idle.h5" 1 0.001 300
run idle-off --set federation.rounds=2 --set devices.gflops=0.001 || bad "count_idle off: run"
check "energy.count_idle = no: no idle energy" cols_ok "$TMP/idle-off.h5" 0 0.001

# carbon from an hourly trace: client 0 in region XA, client 1 in XB; at 1e-6 GFLOP/s
# and 1e5 local epochs a sample costs 3600 s of compute, so round 1 (from 00:30) lasts 3 h
# and round 2
# starts in hour 3; each participation's carbon_g = energy_j x the intensity of its
# region in the hour in progress at the round's start (not the nearest hour)
{ echo timestamp,region,gco2_per_kwh
  for h in 0 1 2 3 4 5 6 7 8 9; do
    printf '2022-03-01T%02d:00Z,XA,%d\n2022-03-01T%02d:00Z,XB,%d\n' $h $((100 * (h + 1))) $h $((1000 * (h + 1)))
  done; } > "$TMP/ci.csv"
printf 'client,region\n0,XA\n1,XB\n' > "$TMP/regions.csv"
run carbon --set federation.rounds=2 --set devices.gflops=1e-6 --set federation.local_epochs=100000 --set "energy.carbon_file=$TMP/ci.csv" \
  --set "energy.regions_file=$TMP/regions.csv" --set energy.start=2022-03-01T00:30Z || bad "carbon: run"
check "carbon: carbon_g = energy_j x the trace's intensity (region, hour of the round start)" awk '
  FNR == NR { start[$1 + 1] = $2; next }   # round r starts when round r - 1 ends
  { h = int((1800 + start[$1]) / 3600); ci = ($2 == 0 ? 100 : 1000) * (h + 1)
    d = $4 - $3 * ci / 3.6e6; if (d < 0) d = -d; if (d > 1e-12 * $4) bad = 1; n++
    if ($1 == 2 && h != 3) bad = 1 }
  END { exit bad || n != 4 }' <(cols -x "$TMP/carbon.h5" /rounds round sim_time_s) \
  <(cols -x "$TMP/carbon.h5" /participation round client energy_j carbon_g)
check "carbon: /rounds columns recomputed" tables_consistent "$TMP/carbon.h5"

# test loss and accuracy: the final model evaluated on the test set by hand
eval_ok() {  # FILE: /rounds test_loss, test_accuracy of its last row
  { model_values "$1" | sed 's/^/w /'; sed 's/^/t /' "$TMP/testset"
    cols -x "$1" /rounds test_loss test_accuracy | tail -1 | sed 's/^/r /'; } | awk -v D=$D -v C=$C '
    $1 == "w" { w[nw++] = $2; next }
    $1 == "t" { mx = -1e300; am = -1
      for (c = 0; c < C; c++) { z[c] = w[C * D + c]; for (d = 0; d < D; d++) z[c] += w[c * D + d] * $(2 + d)
                                if (z[c] > mx) { mx = z[c]; am = c } }
      s = 0; for (c = 0; c < C; c++) s += exp(z[c] - mx)
      loss += log(s) - (z[$(2 + D)] - mx); ok += am == $(2 + D); n++; next }
    $1 == "r" { dl = $2 - loss / n; da = $3 - ok / n
                if (dl * dl > 1e-12 || da * da > 1e-20) { printf "  test_loss %s (want %.9g), accuracy %s (want %.9g)\n", $2, loss / n, $3, ok / n; exit 1 }
                found = 1 }
    END { exit !found }'
}
check "fedavg: test_loss and test_accuracy of the final model, by hand" eval_ok "$TMP/fedavg.h5"
check "fedadam: test_loss and test_accuracy of the final model, by hand" eval_ok "$TMP/fedadam.h5"
finish
