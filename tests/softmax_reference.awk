# tests/softmax_reference.awk: the softmax-regression gradient the reference
# computations share (tests/fl_reference.awk, tests/personal_reference.awk), in
# double precision from the formulas: load with `awk -f softmax_reference.awk -f ...`.
# Weights w: C x D row-major, then C biases; X[k, d], Y[k]: client k's sample.
function softmax_grad(w, k, g,    c, d, z, mx, s, p, loss) {
  # g = gradient of CE at client k's sample; returns the loss
  mx = -1e300
  for (c = 0; c < C; c++) {
    z[c] = w[C * D + c]
    for (d = 0; d < D; d++) z[c] += w[c * D + d] * X[k, d]
    if (z[c] > mx) { mx = z[c]; arg = c }  # arg: the predicted class
  }
  s = 0
  for (c = 0; c < C; c++) s += exp(z[c] - mx)
  loss = log(s) - (z[Y[k]] - mx)
  for (c = 0; c < C; c++) {
    p = exp(z[c] - mx) / s - (c == Y[k])
    for (d = 0; d < D; d++) g[c * D + d] = p * X[k, d]
    g[C * D + c] = p
  }
  return loss
}
