# personal_reference.awk — an independent reference of per-client evaluation
# for tests/personal.sh and tests/personal_mix.sh: multinomial logistic
# regression (z = W x + b, W is C x D row-major, then b), softmax
# cross-entropy, in double precision, written from the definitions
# (data.client_test_fraction, personal.finetune_steps, Ditto's proximal step,
# FedEM's and kNN-Per's predictors in docs/results.md and the heads of
# src/strategies/ditto.c, fedem.c, knnper.c), not from hetfl's code.
#
# Every client holds n_k copies of ONE sample (tests/lib.sh leaf_json), so its
# test split is h_k = min(floor(f n_k), n_k - 1) copies of it and any minibatch
# has the gradient at that sample: nothing depends on the shuffles.
#
#   awk -f personal_reference.awk -v D=2 -v C=3 -v f=0.25 -v mode=eval|finetune|ditto \
#       [-v lr= -v steps= -v lam= -v B= -v E=] MODEL CLIENTS
#   MODEL: the model every client starts from, one value a line (W row by row, then b)
#   -v natural=1: CLIENTS are the test file's users, all n_k copies the client's split
#   CLIENTS: lines "k n_k x_1 .. x_D y"
#   eval: the model as is; finetune: `steps` gradient steps w -= lr g(w);
#   ditto: E ceil((n_k - h_k)/B) steps v = (v - lr g(v) + lr lam w)/(1 + lr lam) from v = w
#   fedem (-v M=): MODEL holds the M components one after the other; one round of
#     FedEM (Marfoq et al. 2021) with every client: pi_k = 1/M, responsibilities
#     q_m = pi_m p_m(y)/sum (all of a client's samples alike), pi_k = q, component m
#     trained by E ceil((n_k - h_k)/B) steps w -= lr q_m g(w) (the weighted loss
#     q_m l), averaged with weights n_k - h_k; each split evaluated with the
#     mixture sum_m pi_km softmax(h_m x) (argmax ties: the lowest class)
#   knnper (-v lam=): the model's prediction interpolated with the kNN one; the
#     datastore is the client's n_k - h_k training copies of its sample, so the
#     neighbours' distribution is onehot(y): lam onehot(y) + (1 - lam) softmax
# Prints "k h_k accuracy loss" a client (accuracy and loss "nan" when h_k = 0).
FNR == NR { w0[NR - 1] = $1; P = NR; next }
FNR == 1 && mode == "fedem" { P = P / M; for (m = 0; m < M; m++) S[m] = 0; N = 0 }
{
  k = $1; n = $2
  for (d = 0; d < D; d++) X[k, d] = $(3 + d)
  Y[k] = $(3 + D)
  h = int(f * n); if (h > n - 1) h = n - 1
  if (natural) h = n  # data.client_test_natural: the line is the client's test user
  H[k] = h; K[++nk] = k
  if (mode == "fedem") { fedem_client(k, n - h); next }
  if (h <= 0) { print k, 0, "nan", "nan"; next }
  for (j = 0; j < P; j++) { w[j] = w0[j] }
  ns = mode == "finetune" ? steps : mode == "ditto" ? E * int((n - h + B - 1) / B) : 0
  for (i = 0; i < ns; i++) {
    softmax_grad(w, k, g)
    for (j = 0; j < P; j++)
      w[j] = mode == "ditto" ? (w[j] - lr * g[j] + lr * lam * w0[j]) / (1 + lr * lam) : w[j] - lr * g[j]
  }
  loss = softmax_grad(w, k, g)
  if (mode == "knnper") { knn_mix(k, h, g, loss); next }
  printf "%d %d %d %.17g\n", k, h, arg == Y[k], loss
}
# p_c = softmax at client k's sample, from softmax_grad's bias gradient p - onehot(y)
function probs(k, g, p,    c) { for (c = 0; c < C; c++) p[c] = g[C * D + c] + (c == Y[k]) }
function knn_mix(k, h, g, loss,    p, c, best, a, v) {
  probs(k, g, p)
  best = -1
  for (c = 0; c < C; c++) { v = lam * (c == Y[k]) + (1 - lam) * p[c]; if (v > best) { best = v; a = c } }
  printf "%d %d %d %.17g\n", k, h, a == Y[k], -log(lam + (1 - lam) * exp(-loss))
}
# FedEM's client k with nt training copies: E-step, pi, the weighted training, the sums
function fedem_client(k, nt,    m, j, z, i, ns, loss, g, u, q) {
  z = 0
  for (m = 0; m < M; m++) {
    for (j = 0; j < P; j++) u[j] = w0[m * P + j]
    q[m] = exp(-softmax_grad(u, k, g)) / M; z += q[m]
  }
  ns = E * int((nt + B - 1) / B)
  for (m = 0; m < M; m++) {
    PI[k, m] = q[m] / z
    for (j = 0; j < P; j++) u[j] = w0[m * P + j]
    for (i = 0; i < ns; i++) { softmax_grad(u, k, g); for (j = 0; j < P; j++) u[j] -= lr * PI[k, m] * g[j] }
    for (j = 0; j < P; j++) W[m * P + j] += nt * u[j]
  }
  N += nt
}
END {
  if (mode != "fedem") exit
  for (i = 1; i <= nk; i++) {
    k = K[i]
    if (H[k] <= 0) { print k, 0, "nan", "nan"; continue }
    for (c = 0; c < C; c++) mix[c] = 0
    py = 0
    for (m = 0; m < M; m++) {
      for (j = 0; j < P; j++) u[j] = W[m * P + j] / N
      loss = softmax_grad(u, k, g)
      probs(k, g, p)
      for (c = 0; c < C; c++) mix[c] += PI[k, m] * p[c]
      py += PI[k, m] * exp(-loss)
    }
    best = -1
    for (c = 0; c < C; c++) if (mix[c] > best) { best = mix[c]; a = c }
    printf "%d %d %d %.17g\n", k, H[k], a == Y[k], -log(py)
  }
}
