#!/usr/bin/env bash
# Every piece of state registered for the checkpoint survives a resume, checked
# without timing: a finished run (checkpoints every 3 rounds of 9, the last at
# round 6) is resumed with --resume on another rank count, which rolls the file
# back to round 6 and redoes rounds 7-9 from the restored state; the file must be
# identical to the uninterrupted run (hetfl compare: /rounds, /participation,
# /model/final, /config).  One case per family of state, each using it in the
# rounds it redoes, so leaving any buffer out of the checkpoint (or restoring it
# wrongly) changes the result:
#   global model and simulated time (every case); server optimizer moments (adam);
#   SCAFFOLD c and the per-client c_k, created lazily on the hosting rank (11
#   clients over 2, then 3 ranks: blocks of different sizes); Ditto's personal
#   models (the same layout; per-client evaluation on); FedEM's components and
#   mixture weights (3 ranks, then 2); dynamic backup
#   workers' estimates; D-PSGD client models; FjORD with self-distillation (the
#   model only); FedDF group models; energy budgets
#   and their refill periods; the carbon-aware sampler's carbon spent; selection
#   estimators and losses (power-of-choice, F3AST rates, unbiased correction);
#   Poisson sampling with DP noise and the privacy observers' round tables; the combined
#   attribute attack's running score sums (per-client, moved to another rank); the
#   reconstruction attack's window of uploads (global, saved from rank 0's copy).
#   (SIGKILL/SIGTERM/SIGUSR1 at random rounds: tests/resume.sh, resume_avail.sh.)
. "$(dirname "$0")/lib.sh"
cat > "$TMP/s.conf" <<'EOF'
[run]
name = resume-state
seed = 5
checkpoint_every = 3
[data]
dataset = synthetic
partition = iid
train_samples = 1100
[model]
arch = mlp
hidden = 12
[federation]
clients = 11
clients_per_round = 5
rounds = 9
local_epochs = 1
batch_size = 10
lr = 0.05
eval_every = 1
EOF
S=$TMP/s.conf
# resume_case NAME RANKS_FIRST RANKS_RESUME [--set K=V]...
# RESUME_STATE_CASES="name ...": only those cases (tests/mutants.txt uses it).  Each run
# gets 300 s: a rank stuck in a collective (per-client state laid out differently on
# different ranks) fails the case instead of holding the whole test until its limit.
run_mpi() { local n=$1; shift; timeout -k 10 300 "$MPIEXEC" -n "$n" --oversubscribe "$HETFL" "$@"; }
resume_case() {
  local name=$1 n1=$2 n2=$3; shift 3
  case " ${RESUME_STATE_CASES:-$name} " in *" $name "*) ;; *) return ;; esac
  run_mpi "$n1" run "$S" --quiet -o "$TMP/$name.h5" "$@" > "$TMP/$name.log" 2>&1 ||
    { cat "$TMP/$name.log"; bad "$name: reference run"; return; }
  cp "$TMP/$name.h5" "$TMP/$name-res.h5"
  # shellcheck disable=SC2086
  run_mpi "$n2" run "$S" --quiet "$@" ${RESUME_EXTRA:-} --resume "$TMP/$name-res.h5" > "$TMP/$name-res.log" 2>&1 ||
    { cat "$TMP/$name-res.log"; bad "$name: --resume"; return; }
  check "$name: checkpoint at round 6 resumed on $n2 ranks (from $n1) = uninterrupted" \
    "$HETFL" compare "$TMP/$name.h5" "$TMP/$name-res.h5"
  check "$name: 9 rounds, no leftover rows" test "$(nrows "$TMP/$name-res.h5" /rounds)" = 9
}
# the redone round must depend on the state: a run without it differs (the check can fail)
resume_case plain 1 2
# the resume may change the rank count and the aggregation topology, nothing else
RESUME_EXTRA="--set aggregation.topology=allreduce" resume_case adam 2 1 --set server.optimizer=adam --set server.lr=0.03
refused() {  # NAME [--set K=V]...: resuming plain's file with another setting: exit 2, file untouched
  local name=$1; shift
  cp "$TMP/plain.h5" "$TMP/refused.h5"
  run_mpi 1 run "$S" --quiet "$@" --resume "$TMP/refused.h5" > "$TMP/refused.log" 2>&1
  local rc=$?
  check "plain: resume with $name refused (exit $rc = 2), file untouched" \
    sh -c "[ $rc = 2 ] && grep -q 'cannot resume' '$TMP/refused.log' && cmp -s '$TMP/plain.h5' '$TMP/refused.h5'"
}
case " ${RESUME_STATE_CASES:-plain} " in *" plain "*)
  refused "another seed" --seed 6
  refused "another lr of the same length" --set federation.lr=0.07
  refused "another strategy" --set federation.strategy=fedprox ;;
esac
resume_case scaffold 2 3 --set federation.strategy=scaffold
# Ditto's personal models (per-client, lazily created; they enter /rounds.client_acc_*)
resume_case ditto 2 3 --set federation.strategy=ditto --set data.client_test_fraction=0.2
# the same per-client vectors kept sparsely (cstore.h: hf_cvecs_t): 200 clients, 2 a round
# for 9 rounds, so at most 18 take part: a table of 64 slots on each rank, fewer than its
# 100 (2 ranks) or 66-67 (3 ranks) clients, in another slot order after the resume; the
# checkpoint holds records of the clients that took part; top-k memory on the same store
SP=(--set federation.clients=200 --set federation.clients_per_round=2 --set data.train_samples=4000)
resume_case scaffold-sparse 2 3 --set federation.strategy=scaffold "${SP[@]}"
case " ${RESUME_STATE_CASES:-scaffold-sparse} " in *" scaffold-sparse "*)
  # The committed checkpoint of the uninterrupted run (round 6), by hand: scaffold_ck holds
  # min(N, rounds x m) = min(200, 9 x 2) = 18 records of an int64 id and c_k (P = 60*12 + 12
  # + 12*10 + 10 = 862 floats): 18 x 3456 = 62208 bytes whatever N; its used records are
  # the clients that completed a round by then, in id order (from /participation); and
  # since c and every c_k start at 0 and c moves by (1/N) of the kept clients' Δc, c equals
  # (1/N) Σ_k c_k over the records (to float rounding).
  F=$TMP/scaffold-sparse.h5
  attr() { "$H5DUMP" -a "$2" "$1" | sed -n 's/^ *(0): \([-0-9]*\).*/\1/p'; }
  SLOT=/checkpoint/slot$(attr "$F" /checkpoint/current)
  rnd=$(attr "$F" $SLOT/round) ent=$(attr "$F" $SLOT/scaffold_ck/entries)
  check "scaffold-sparse: the checkpoint's c_k dataset is 18 records of 8 + 4 x 862 bytes" \
    test "$(nrows "$F" $SLOT/scaffold_ck)" = 62208 -a "$rnd" = 6
  "$H5DUMP" -d $SLOT/scaffold_ck -b LE -o "$TMP/ck.bin" "$F" > /dev/null
  "$H5DUMP" -d $SLOT/scaffold_c -b LE -o "$TMP/c.bin" "$F" > /dev/null
  for ((j = 0; j < ent; j++)); do od -A n -t d8 -j $((j * 3456)) -N 8 "$TMP/ck.bin"; done | tr -d ' ' > "$TMP/ck.ids"
  cols "$F" /participation round client outcome | awk -v r="$rnd" '$1 <= r && $3 == "completed" { print $2 }' |
    sort -n | uniq > "$TMP/took.ids"
  check "scaffold-sparse: records = the $(wc -l < "$TMP/took.ids") clients that took part by round 6, in id order" \
    sh -c "[ -s '$TMP/took.ids' ] && cmp -s '$TMP/ck.ids' '$TMP/took.ids'"
  { od -A n -v -t f4 -w4 "$TMP/c.bin"; echo SEP
    for ((j = 0; j < ent; j++)); do od -A n -v -t f4 -w4 -j $((j * 3456 + 8)) -N 3448 "$TMP/ck.bin"; done; } > "$TMP/ck.vals"
  check "scaffold-sparse: c = (1/N) sum of the recorded c_k" awk -v N=200 -v P=862 '
    $1 == "SEP" { s = 1; next } !s { c[n++] = $1; next } { sum[i++ % P] += $1 }
    END { for (j = 0; j < P; j++) { d = sum[j] / N - c[j]; a = c[j] < 0 ? -c[j] : c[j]
            if (d > 1e-6 * a + 1e-9 || d < -1e-6 * a - 1e-9) exit 1; if (a > 0) nz++ }
          exit !(n == P && i == P * '"$ent"' && nz > 0) }' "$TMP/ck.vals" ;;
esac
resume_case ditto-sparse 3 2 --set federation.strategy=ditto --set data.client_test_fraction=0.2 "${SP[@]}"
resume_case topk-sparse 2 3 --set energy.compress=topk --set energy.topk_ratio=0.1 --set energy.measure=no "${SP[@]}"
# FedEM's components (every rank) and mixture weights pi_k (per client, lazily created)
resume_case fedem 3 2 --set federation.strategy=fedem --set fedem.components=2 --set data.client_test_fraction=0.2
resume_case dbw 1 3 --set federation.backup_workers=dynamic --set devices.classes=phone-low:1,laptop:1 \
  --set federation.clients_per_round=8
resume_case dpsgd 3 2 --set federation.mode=decentralized --set topology.kind=ring
# FjORD's self-distillation (exact soft target) with momentum: no state beyond the model;
# the redone rounds' per-minibatch widths and KD steps come from the keyed RNG
resume_case fjordkd 2 3 --set federation.strategy=fjord --set fjord.kd=yes --set federation.momentum=0.5
resume_case feddf 1 2 --set federation.strategy=feddf --set feddf.groups=a1-c1 --set feddf.steps=20 \
  --set feddf.val_every=10 --set feddf.patience=20
# budgets that bind (0.6-1.8 mJ; a full round costs about 0.93 mJ: fewer steps, or
# over_budget) and are refilled every 0.25 simulated seconds (2.5 rounds)
resume_case budgets 2 3 --set energy.budget_j=0.0012 --set energy.budget_spread=0.5 \
  --set energy.budget_period_h=7e-5 --set energy.budget_strategy=steps --set energy.measure=no
# the same budgets, never refilled, for 130 clients of 100 samples: the budgets
# spent are kept sparsely (cstore.c: at most 9 x 5 = 45 clients spend, 128 slots
# < 130 clients); clients planned before the checkpoint come back after it
resume_case budgets-sparse 2 3 --set energy.budget_j=0.0012 --set energy.budget_spread=0.5 \
  --set energy.budget_strategy=steps --set energy.measure=no \
  --set federation.clients=130 --set data.train_samples=13000
resume_case carbon 1 2 --set energy.scheduler=carbon-aware --set energy.carbon_budget_g=1e-6 \
  --set "energy.regions=FR:1,PL:1" --set energy.measure=no
resume_case poc 1 3 --set selection.policy=poc --set aggregation.correction=unbiased \
  --set availability.model=markov --set availability.pi=0.6 --set availability.lambda=0.5 --set availability.slot_s=1
resume_case f3ast 2 1 --set selection.policy=f3ast --set availability.model=markov --set availability.pi=0.6 \
  --set availability.lambda=0.5 --set availability.slot_s=1
# asynchronous mode (FedBuff): its checkpoint after update 6 holds the updates trained
# but not yet applied (async_inflight, one per client at most: 7 clients training at once,
# a buffer of 3, so some are 1-2 versions stale); unequal Dirichlet shares weighted by n_k,
# Adam on the server; resumed on more and on fewer ranks
A=(--set federation.mode=async --set async.concurrency=7 --set async.buffer=3 --set async.weights=samples
   --set data.partition=dirichlet --set data.alpha=0.5 --set server.optimizer=adam --set server.lr=0.03)
resume_case async 1 2 "${A[@]}"
resume_case async23 2 3 "${A[@]}"
resume_case async31 3 1 "${A[@]}"
case " ${RESUME_STATE_CASES:-async} " in *" async "*)
  # (a job's start version is round - 1 - staleness; trained by update 6 when it is <= 5)
  cols "$TMP/async.h5" /participation round outcome staleness > "$TMP/async.rows"
  check "async: some of the redone updates apply stale updates (staleness > 0 after update 6)" \
    awk '$1 > 6 && $2 == "completed" && $3 > 0 { s = 1 } END { exit !s }' "$TMP/async.rows"
  check "async: some update trained before the checkpoint is applied after it" \
    awk '$1 > 6 && $2 == "completed" && $1 - 1 - $3 <= 5 { s = 1 } END { exit !s }' "$TMP/async.rows" ;;
esac
# Poisson sampling (q = 2/11: empty rounds too) with DP-FedAvg's server noise and both
# uplink observers (no state of their own; /privacy and /attribute_inference rolled back)
resume_case poisson 2 3 --set selection.policy=poisson --set federation.clients_per_round=2 \
  --set federation.strategy=dpfedavg --set dp.noise_multiplier=0.5 --set data.synthetic_sensitive=yes \
  --set privacy.attack=update --set privacy.attribute_attack=update --set privacy.samples=20
# the combined attribute attack's running score sums (aia_score_sums), target 10: hosted by
# rank 1 of 2, then rank 2 of 3; client 10 uploads every round, so rounds 7-9's rows add to them
resume_case combined 2 3 --set data.synthetic_sensitive=yes --set privacy.attribute_attack=combined \
  --set privacy.target=10 --set privacy.samples=20 --set federation.clients_per_round=11
case " ${RESUME_STATE_CASES:-combined} " in *" combined "*)
  check "combined: round 9's row sums 9 uploads" \
    test "$(cols "$TMP/combined-res.h5" /attribute_inference round uploads | tail -1)" = "9 9" ;;
esac
# the reconstruction attack's window of uploads (aia_history: global state, kept by the
# target's rank and rank 0), target 10: hosted by rank 1 of 2 (rank 0's copy is what the
# checkpoint saves), then rank 2 of 3; a window of 4, so rounds 7-9 use uploads from before it
resume_case reconstruct 2 3 --set data.synthetic_sensitive=yes --set privacy.attribute_attack=reconstruct \
  --set privacy.reconstruct_uploads=4 --set privacy.target=10 --set privacy.samples=20 --set federation.clients_per_round=11
case " ${RESUME_STATE_CASES:-reconstruct} " in *" reconstruct "*)
  check "reconstruct: round 9's row uses 4 uploads" \
    test "$(cols "$TMP/reconstruct-res.h5" /attribute_inference round uploads | tail -1)" = "9 4" ;;
esac
# top-k error-feedback memory (energy.compress = topk: energy_topk_memory)
case " ${RESUME_STATE_CASES:-topk} " in *" topk "*) ;; *) finish; exit ;; esac
T=(--set energy.compress=topk --set energy.topk_ratio=0.1 --set energy.measure=no)
run_mpi 1 run "$S" --quiet -o "$TMP/topk.h5" "${T[@]}" > "$TMP/topk.log" 2>&1 || bad "topk: reference run"
cp "$TMP/topk.h5" "$TMP/topk-res.h5"
run_mpi 2 run "$S" --quiet "${T[@]}" --resume "$TMP/topk-res.h5" > "$TMP/topk-res.log" 2>&1 || bad "topk: --resume"
check "topk: error-feedback memory survives a resume" "$HETFL" compare "$TMP/topk.h5" "$TMP/topk-res.h5"
finish
