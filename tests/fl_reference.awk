# fl_reference.awk — an independent reference of hetfl's federated training for
# tests/values.sh: multinomial logistic regression (z = W x + b, W is C x D,
# row-major, then b), softmax cross-entropy, local SGD, and the server step of
# FedAvg, FedProx, FedNova and SCAFFOLD with the FedOpt server optimizers, in
# double precision, written from the papers' formulas (not from hetfl's code).
#
# Every client holds n_k copies of ONE sample, so any batch of it has the same
# gradient and the result does not depend on the shuffle: a client takes
# ceil(n_k / B) steps per epoch, each on the gradient at its one sample.
#
#   awk -f fl_reference.awk -v D=2 -v C=3 -v lr=0.5 -v E=1 -v B=2 -v rounds=1 \
#       -v strategy=fedavg [-v mu= -v rho= -v wd= -v clip= -v sopt=none -v slr=1 -v b1= -v b2= -v tau= -v vinit=zero -v N=]
#       X0 CLIENTS
#   X0: the initial model, one value a line (W row by row, then b)
#   CLIENTS: one line a client, every round all of them take part:
#       k n_k x_1 .. x_D y [steps]   (steps: a cap on local steps, e.g. partial work)
# Prints "param J VALUE" for the final model, "loss R K VALUE" (each client's
# sample-weighted mean loss over its local steps, as /participation.local_loss),
# and "train_loss R VALUE" (the n_k-weighted mean of the round's local losses).
function fednova_a(tau, rho, eta_mu,    a, cnt, j) {
  # a_k of Wang et al. 2020: sum_j (1 - rho^j)/(1 - rho) with momentum,
  # sum_{j<tau} (1 - eta mu)^j with a proximal term, tau for plain SGD
  a = 0; cnt = 0
  for (j = 0; j < tau; j++) {
    if (rho != 0) { cnt = cnt * rho + 1; a += cnt }
    if (eta_mu != 0) a = a * (1 - eta_mu) + 1
    if (rho == 0 && eta_mu == 0) a += 1
  }
  return a
}
BEGIN { P = C * D + C; if (slr == "") slr = 1; if (sopt == "") sopt = "none" }
FNR == NR { x[np++] = $1; next }
{
  k = $1; K[nk++] = k; n[k] = $2
  for (d = 0; d < D; d++) X[k, d] = $(3 + d)
  Y[k] = $(3 + D)
  full[k] = E * int((n[k] + B - 1) / B)
  cap[k] = NF >= 4 + D ? $(4 + D) : full[k]
}
END {
  if (N == "") N = nk
  if (np != P) { print "fl_reference: " np " values in X0, expected " P > "/dev/stderr"; exit 2 }
  # Reddi et al. 2021, Algorithm 2: the second moment starts at v_{-1} = tau^2 (vinit=zero: at 0)
  for (j = 0; j < P; j++) { cs[j] = 0; mo[j] = 0; ve[j] = vinit == "zero" ? 0 : tau * tau }
  for (i = 0; i < nk; i++) for (j = 0; j < P; j++) ck[K[i], j] = 0
  for (r = 1; r <= rounds; r++) {
    nsum = 0; for (i = 0; i < nk; i++) nsum += n[K[i]]
    for (j = 0; j < P; j++) agg[j] = 0
    num = 0; wl = 0
    for (i = 0; i < nk; i++) {
      k = K[i]
      for (j = 0; j < P; j++) { y[j] = x[j]; m[j] = 0 }
      steps = cap[k] < full[k] ? cap[k] : full[k]
      spe = int((n[k] + B - 1) / B)
      lsum = 0; seen = 0
      for (s = 0; s < steps; s++) {
        bs = (s % spe) < spe - 1 ? B : n[k] - (spe - 1) * B   # this step's batch size
        l = softmax_grad(y, k, g)
        lsum += l * bs; seen += bs
        if (clip > 0) {                       # clip the gradient's global norm (before the other terms)
          nn = 0; for (j = 0; j < P; j++) nn += g[j] * g[j]
          cf = clip / (sqrt(nn) + 1e-6); if (cf < 1) for (j = 0; j < P; j++) g[j] *= cf
        }
        for (j = 0; j < P; j++) {
          if (strategy == "fedprox" || (strategy == "fednova" && mu > 0)) g[j] += mu * (y[j] - x[j])
          if (strategy == "scaffold") g[j] += cs[j] - ck[k, j]
          g[j] += wd * y[j]
          if (rho > 0) { m[j] = rho * m[j] + g[j]; y[j] -= lr * m[j] }
          else y[j] -= lr * g[j]
        }
      }
      loss[k] = lsum / seen
      wl += n[k] * loss[k]
      printf "loss %d %d %.17g\n", r, k, loss[k]
      tau_k[k] = steps
      a[k] = strategy == "fednova" ? fednova_a(steps, rho, lr * mu) : steps
      num += n[k] * a[k]
      for (j = 0; j < P; j++) dy[k, j] = y[j] - x[j]
    }
    printf "train_loss %d %.17g\n", r, wl / nsum
    teff = num / nsum
    for (i = 0; i < nk; i++) {
      k = K[i]
      if (strategy == "scaffold") w = 1 / nk                     # option II, unweighted
      else if (strategy == "fednova") w = n[k] / nsum * teff / a[k]
      else w = n[k] / nsum                                      # FedAvg, FedProx: n_k / sum n
      for (j = 0; j < P; j++) agg[j] += w * dy[k, j]
    }
    if (strategy == "scaffold") {                               # c_k+ = c_k - c + (x - y)/(K lr)
      for (j = 0; j < P; j++) dc[j] = 0
      for (i = 0; i < nk; i++) {
        k = K[i]
        for (j = 0; j < P; j++) {
          cn = ck[k, j] - cs[j] - dy[k, j] / (tau_k[k] * lr)
          dc[j] += cn - ck[k, j]; ck[k, j] = cn
        }
      }
      for (j = 0; j < P; j++) cs[j] += dc[j] / N            # c += (1/N) sum dc
    }
    for (j = 0; j < P; j++) {                                   # server optimizer on the aggregate
      dlt = agg[j]
      if (sopt == "none") x[j] += slr * dlt
      else if (sopt == "avgm") { mo[j] = b1 * mo[j] + dlt; x[j] += slr * mo[j] }
      else if (sopt == "adam") {
        mo[j] = b1 * mo[j] + (1 - b1) * dlt; ve[j] = b2 * ve[j] + (1 - b2) * dlt * dlt
        x[j] += slr * mo[j] / (sqrt(ve[j]) + tau)
      }
    }
  }
  for (j = 0; j < P; j++) printf "param %d %.17g\n", j, x[j]
}
