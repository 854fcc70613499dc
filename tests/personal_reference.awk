# personal_reference.awk — an independent reference of per-client evaluation
# for tests/personal.sh: multinomial logistic regression (z = W x + b, W is
# C x D row-major, then b), softmax cross-entropy, in double precision, written
# from the definitions (data.client_test_fraction, personal.finetune_steps,
# Ditto's proximal step in docs/results.md and src/strategies/ditto.c's head),
# not from hetfl's code.
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
# Prints "k h_k accuracy loss" a client (accuracy and loss "nan" when h_k = 0).
FNR == NR { w0[NR - 1] = $1; P = NR; next }
{
  k = $1; n = $2
  for (d = 0; d < D; d++) X[k, d] = $(3 + d)
  Y[k] = $(3 + D)
  h = int(f * n); if (h > n - 1) h = n - 1
  if (natural) h = n  # data.client_test_natural: the line is the client's test user
  if (h <= 0) { print k, 0, "nan", "nan"; next }
  for (j = 0; j < P; j++) { w[j] = w0[j] }
  ns = mode == "finetune" ? steps : mode == "ditto" ? E * int((n - h + B - 1) / B) : 0
  for (i = 0; i < ns; i++) {
    softmax_grad(w, k, g)
    for (j = 0; j < P; j++)
      w[j] = mode == "ditto" ? (w[j] - lr * g[j] + lr * lam * w0[j]) / (1 + lr * lam) : w[j] - lr * g[j]
  }
  loss = softmax_grad(w, k, g)
  printf "%d %d %d %.17g\n", k, h, arg == Y[k], loss
}
