#!/bin/bash
# tests/lstm_torch.sh — the lstm (kernels/nn_lstm.c) against PyTorch on fixed
# weights: tests/lstm_dump prints a model's parameters, token ids, labels, and
# hetfl's logits, loss and gradient; PyTorch (torch.nn.Embedding, torch.nn.LSTM
# with batch_first — num_layers=2 when both widths are equal, else two stacked
# one-layer LSTMs — and torch.nn.Linear on the last step, in float64) recomputes
# them from the same weights.  hetfl's gate rows are unit-major (row 4j+q) and
# PyTorch's gate-major (row qH+j), q = i,f,g,o in both; hetfl's one bias is
# PyTorch's bias_ih with bias_hh = 0.  Every logit, the loss and every gradient
# coordinate must agree within 1e-4.  Skips (77) when /usr/bin/python3 cannot
# import torch (Debian: python3-torch).
. "$(dirname "$0")/lib.sh"
PY=${TORCH_PYTHON:-/usr/bin/python3}
DUMP=${LSTM_DUMP:-$(dirname "$HETFL")/tests/lstm_dump}
if ! "$PY" -c 'import torch, numpy' 2> /dev/null; then
  echo "SKIP: $PY cannot import torch (apt-get install python3-torch)"; exit 77
fi
[ -x "$DUMP" ] || { echo "SKIP: $DUMP not built (make check builds it; needs CUnit)"; exit 77; }

# compare VOCAB EMBED H1 H2 SEQ B SEED SCALE
compare() {
  "$DUMP" "$@" > "$TMP/dump.txt" || return 1
  "$PY" - "$TMP/dump.txt" << 'PYEOF'
import sys
import numpy as np
import torch

d = {}
for line in open(sys.argv[1]):
    f = line.split()
    d[f[0]] = np.array([float(v) for v in f[2:]], dtype=np.float64)
V, E, H1, H2, T, B = (int(v) for v in d["dims"])
p, g = d["params"], d["grad"]
torch.set_default_dtype(torch.float64)
off = 0
def take(*shape):
    global off
    n = int(np.prod(shape))
    a = p[off:off + n].reshape(shape)
    off += n
    return a
def gate_major(w, H):   # rows 4j+q -> q*H+j
    return w.reshape(H, 4, -1).transpose(1, 0, 2).reshape(4 * H, -1)
emb = torch.nn.Embedding(V, E)
emb.weight.data = torch.tensor(take(V, E))
widths, ins = [H1, H2], [E, H1]
if H1 == H2:
    lstms = [torch.nn.LSTM(E, H1, num_layers=2, batch_first=True)]
    layers = [(lstms[0], k) for k in range(2)]
else:
    lstms = [torch.nn.LSTM(ins[k], widths[k], batch_first=True) for k in range(2)]
    layers = [(lstms[k], 0) for k in range(2)]
for k, (mod, s) in enumerate(layers):
    H = widths[k]
    getattr(mod, "weight_ih_l%d" % s).data = torch.tensor(gate_major(take(4 * H, ins[k]), H))
    getattr(mod, "weight_hh_l%d" % s).data = torch.tensor(gate_major(take(4 * H, H), H))
    getattr(mod, "bias_ih_l%d" % s).data = torch.tensor(gate_major(take(4 * H), H).ravel())
    getattr(mod, "bias_hh_l%d" % s).data = torch.zeros(4 * H)
fc = torch.nn.Linear(H2, V)
fc.weight.data = torch.tensor(take(V, H2))
fc.bias.data = torch.tensor(take(V))
assert off == len(p), "parameter count"
x = torch.tensor(d["x"].reshape(B, T), dtype=torch.long)
y = torch.tensor(d["y"], dtype=torch.long)
h = emb(x)
for mod in lstms:
    h, _ = mod(h)
z = fc(h[:, -1, :])
loss = torch.nn.functional.cross_entropy(z, y)
loss.backward()
gt = [emb.weight.grad.numpy().ravel()]
for k, (mod, s) in enumerate(layers):
    H = widths[k]
    unit_major = lambda a: a.reshape(4, H, -1).transpose(1, 0, 2).reshape(-1)
    gt += [unit_major(getattr(mod, "weight_ih_l%d" % s).grad.numpy()),
           unit_major(getattr(mod, "weight_hh_l%d" % s).grad.numpy()),
           unit_major(getattr(mod, "bias_ih_l%d" % s).grad.numpy())]
gt += [fc.weight.grad.numpy().ravel(), fc.bias.grad.numpy()]
gt = np.concatenate(gt)
dz = np.abs(z.detach().numpy().ravel() - d["logits"]).max()
dl = abs(loss.item() - d["loss"][0])
dg = np.abs(gt - g).max()
print("  %d params: max |logit diff| %.3g, |loss diff| %.3g, max |grad diff| %.3g (grad max %.3g)"
      % (len(p), dz, dl, dg, np.abs(gt).max()))
sys.exit(0 if dz <= 1e-4 and dl <= 1e-4 and dg <= 1e-4 else 1)
PYEOF
}

check "LEAF sizes (vocab 80, embedding 8, 256,256, 80 steps, B=4) == PyTorch within 1e-4" compare 80 8 256 256 80 4 1 1
check "unequal widths 5,4 with weights x3 (saturating gates) == PyTorch within 1e-4" compare 7 3 5 4 6 3 2 3
finish
