"""The resnet of kernels/nn_resnet.c against PyTorch on the same weights.

Usage: resnet_torch.py DIR NORM — DIR holds what `tests/test_nn --resnet-export
DIR NORM` wrote (tensors.txt, params.bin, x.bin, y.bin, calib.bin, loss.bin,
logits.bin, grad.bin).  The same network is built from torch.nn.functional
(conv2d, group_norm or batch_norm, relu, mean over the pixels, linear;
HeteroFL's pre-activation blocks), evaluated in float64 on the exported
float32 weights; the training loss (static-bn: batch statistics), the gradient
of the mean cross-entropy and the logits are compared with the C code's: max
|difference| must stay within 1e-4.  For static-bn the logits are evaluation
mode: running statistics built by BatchNorm's own update with momentum None
(cumulative average: factor 1/t at the t-th chunk) over calib.bin in chunks of
4, 4 and 2 samples, each chunk normalised by its batch statistics.  Exit 0
when they agree, 1 otherwise."""
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

d, norm = sys.argv[1], sys.argv[2]
tensors = []
for line in open(f"{d}/tensors.txt"):
    f = line.split()
    tensors.append((f[0], int(f[1]), [int(v) for v in f[2:]]))
flat = np.fromfile(f"{d}/params.bin", dtype=np.float32)
grad_c = np.fromfile(f"{d}/grad.bin", dtype=np.float32)
P = {}
for name, off, shape in tensors:
    n = int(np.prod(shape))
    P[name] = torch.tensor(flat[off:off + n].reshape(shape), dtype=torch.float64, requires_grad=True)
in_c = P["conv1.weight"].shape[1]
x = torch.tensor(np.fromfile(f"{d}/x.bin", dtype=np.float32), dtype=torch.float64).reshape(-1, in_c, 32, 32)
y = torch.tensor(np.fromfile(f"{d}/y.bin", dtype=np.int32), dtype=torch.long)
logits_c = np.fromfile(f"{d}/logits.bin", dtype=np.float32).reshape(x.shape[0], -1)


running = {}  # static-bn: prefix -> [mean, var, chunks seen]
mode = "train"  # static-bn: train (batch statistics), track (batch statistics, update running), eval


def preact(h, prefix):
    C = h.shape[1]
    if norm == "group":
        h = F.group_norm(h, math.gcd(C, 4), P[prefix + ".weight"], P[prefix + ".bias"], eps=1e-5)
    elif norm == "static-bn":
        r = running.setdefault(prefix, [torch.zeros(C, dtype=torch.float64), torch.ones(C, dtype=torch.float64), 0])
        if mode == "track":
            r[2] += 1
        h = F.batch_norm(h, r[0] if mode != "train" else None, r[1] if mode != "train" else None,
                         P[prefix + ".weight"], P[prefix + ".bias"], training=mode != "eval",
                         momentum=1.0 / max(r[2], 1), eps=1e-5)
    return F.relu(h)


def net(x):
    blocks = sorted({n.rsplit(".", 2)[0] for n, _, _ in tensors if n.startswith("layer")})
    h = F.conv2d(x, P["conv1.weight"], stride=1, padding=1)
    for b in blocks:  # "layer{s}.{j}"
        s, j = (int(v) for v in b[len("layer"):].split("."))
        st = 2 if s > 1 and j == 0 else 1
        a1 = preact(h, b + ".norm1")
        sc = F.conv2d(a1, P[b + ".shortcut.weight"], stride=st) if b + ".shortcut.weight" in P else h
        h1 = F.conv2d(a1, P[b + ".conv1.weight"], stride=st, padding=1)
        h = F.conv2d(preact(h1, b + ".norm2"), P[b + ".conv2.weight"], padding=1) + sc
    return F.linear(preact(h, "norm").mean(dim=(2, 3)), P["linear.weight"], P["linear.bias"])


loss = F.cross_entropy(net(x), y)
loss.backward()
dl = abs(loss.item() - np.fromfile(f"{d}/loss.bin", dtype=np.float32)[0])
with torch.no_grad():
    if norm == "static-bn":
        calib = torch.tensor(np.fromfile(f"{d}/calib.bin", dtype=np.float32), dtype=torch.float64)
        calib = calib.reshape(-1, in_c, 32, 32)
        mode = "track"
        for c0 in range(0, calib.shape[0], 4):
            net(calib[c0:c0 + 4])
        mode = "eval"
    z = net(x)

dz = np.abs(z.numpy() - logits_c).max()
dg = 0.0
for name, off, shape in tensors:
    n = int(np.prod(shape))
    dg = max(dg, np.abs(P[name].grad.numpy().ravel() - grad_c[off:off + n]).max())
scale = np.abs(grad_c).max()
print(f"resnet-10 widths 4,8,8,8 norm {norm}: {len(tensors)} tensors, |loss diff| {dl:.3g}, "
      f"max |logit diff| {dz:.3g}, max |grad diff| {dg:.3g} (max |grad| {scale:.3g})")
sys.exit(0 if dl <= 1e-4 and dz <= 1e-4 and dg <= 1e-4 else 1)
