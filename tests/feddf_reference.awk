# tests/feddf_reference.awk: FedDF's server distillation (feddf.c), in double
# precision from the formulas, for a logreg student (group a) and a teacher of
# two clients that did not move (federation.lr = 0): client 0's logreg x0 and
# client 1's one-hidden-layer ReLU MLP (its width-1/2 slice of m0, hidden H).
#   teacher  zbar_s = (z_x0(s) + z_mlp(s)) / 2 on the S server rows
#   step t   g = (1/S) sum_s (softmax(z(s)/T) - softmax(zbar_s/T)) / T  x [s ; 1]
#            (one batch = the whole server set), lr_t = 0.5 lr (1 + cos(pi t / steps)),
#            Adam (0.9, 0.999, eps 1e-8) with bias correction, from zero moments.
# Input lines "x0 J V" (logreg: C x D row-major, C biases), "m0 J V" (mlp D-H-C:
# W1 H x D, b1 H, W2 C x H, b2 C), "srv d_1 .. d_D".  Variables D, C, H, T, lr,
# steps.  Prints "param J VALUE" for the student after `steps` steps.
$1 == "x0" { w[$2] = $3; next }
$1 == "m0" { m[$2] = $3; next }
$1 == "srv" { for (d = 0; d < D; d++) X[S + 0, d] = $(2 + d); S++; next }
function softmax_T(z, p,    c, mx, s) {
  mx = -1e300
  for (c = 0; c < C; c++) if (z[c] / T > mx) mx = z[c] / T
  s = 0
  for (c = 0; c < C; c++) { p[c] = exp(z[c] / T - mx); s += p[c] }
  for (c = 0; c < C; c++) p[c] /= s
}
END {
  h = H / 2  # the width-1/2 slice: the first h hidden units
  for (s = 0; s < S; s++) {
    for (c = 0; c < C; c++) {
      za = w[C * D + c]
      for (d = 0; d < D; d++) za += w[c * D + d] * X[s, d]
      zm = m[H * D + H + C * H + c]
      for (j = 0; j < h; j++) {
        a = m[H * D + j]
        for (d = 0; d < D; d++) a += m[j * D + d] * X[s, d]
        if (a > 0) zm += m[H * D + H + c * H + j] * a
      }
      zt[c] = (za + zm) / 2
    }
    softmax_T(zt, pt)
    for (c = 0; c < C; c++) PT[s, c] = pt[c]
  }
  P = C * D + C
  for (j = 0; j < P; j++) { am[j] = 0; av[j] = 0 }
  b1t = 1; b2t = 1
  for (t = 0; t < steps; t++) {
    for (j = 0; j < P; j++) g[j] = 0
    for (s = 0; s < S; s++) {
      for (c = 0; c < C; c++) {
        z[c] = w[C * D + c]
        for (d = 0; d < D; d++) z[c] += w[c * D + d] * X[s, d]
      }
      softmax_T(z, p)
      for (c = 0; c < C; c++) {
        e = (p[c] - PT[s, c]) / T / S
        for (d = 0; d < D; d++) g[c * D + d] += e * X[s, d]
        g[C * D + c] += e
      }
    }
    rate = 0.5 * lr * (1 + cos(3.141592653589793 * t / steps))
    b1t *= 0.9; b2t *= 0.999
    a = rate * sqrt(1 - b2t) / (1 - b1t)
    for (j = 0; j < P; j++) {
      am[j] = 0.9 * am[j] + 0.1 * g[j]
      av[j] = 0.999 * av[j] + 0.001 * g[j] * g[j]
      w[j] -= a * am[j] / (sqrt(av[j]) + 1e-8)
    }
  }
  for (j = 0; j < P; j++) printf "param %d %.17g\n", j, w[j]
}
