#!/usr/bin/env python3
"""peer_pytorch.py — the quickstart FedAvg workload as a plain PyTorch loop.

--model cnn runs McMahan's CNN instead of the 2NN (conv5x5x32-pool-conv5x5x64-
pool-fc512-fc10, 'same' padding, ReLU, 2x2 max-pool; hetfl's model.arch = cnn).
--model lstm runs LEAF's Shakespeare char-LSTM (nn.Embedding(80, 8),
nn.LSTM(8, 256, num_layers=2, batch_first=True), nn.Linear(256, 80) on the last
step; hetfl's model.arch = lstm) on the LEAF-layout JSON file --data (one
client per user, in the order of "users"; characters mapped to LEAF's
80-symbol vocabulary).
--model resnet18 --cifar DIR runs HeteroFL's pre-activation ResNet-18 with
group norm (hetfl's model.arch = resnet, model.norm = group: bias-free 3x3
convolutions, GroupNorm(gcd(C,4), C), 1x1 projection shortcuts, average
pooling, linear) on the CIFAR-10 binary files in DIR (data_batch_1..5.bin,
pixels / 255), split IID over --clients.

The reference `hetfl bench peer` compares hetfl against: what Flower, FedScale
and similar Python simulators run underneath, minus their own overhead.  Same
work as hetfl's run: Fashion-MNIST (pixels / 255), McMahan's 2NN 784-200-200-10
(ReLU), 100 IID clients of 600 samples, 10 selected per round uniformly without
replacement, E = 1 local epoch of minibatch SGD (lr 0.05, a fresh shuffle, the
last batch short), updates averaged with weight n_k.  One thread.

This is the fast way to write it in PyTorch (data held as one tensor, one model
and one optimizer reused by every client, parameters copied in and out as one
flat vector), so the ratio is not flattered by a slow baseline.

Prints one line per batch size:
    pytorch B=10 rounds=10 median_ms=123.4 min_ms=120.1 max_ms=130.2 cpu_ms=121.0 torch=1.13.1
(wall milliseconds per round: median, min, max; cpu_ms: median process CPU time
per round, the robust figure on a machine shared with other jobs).
Exit status 77 when torch cannot be imported (the caller prints a skip).
"""
import argparse
import gzip
import json
import math
import os
import statistics
import struct
import sys
import time

# One thread each side, as hetfl's rank.  torch.set_num_threads(1) (main) does
# not reach the BLAS library Debian's torch and numpy link: OpenBLAS starts its
# own threads, and on a 2-core VM its second thread doubled the process CPU
# time of a CNN round (2,668 ms CPU for 1,339 ms wall) without shortening it
# (1,244 ms wall with one thread).  They read these at import, so set them here.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

try:
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"pytorch peer: SKIP: {e} (apt-get install python3-torch; run with /usr/bin/python3)")
    sys.exit(77)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    nd = magic & 0xFF
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


LEAF_LETTERS = "\n !\"&'(),-.0123456789:;>?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz}"


def read_leaf_text(path):
    """LEAF Shakespeare JSON -> X (n, 80) int64 ids, Y (n,), per-user index tensors."""
    with open(path) as f:
        doc = json.load(f)
    ids = {c: i for i, c in enumerate(LEAF_LETTERS)}
    xs, ys, parts = [], [], []
    for u in doc["users"]:
        d = doc["user_data"][u]
        parts.append(torch.arange(len(xs), len(xs) + len(d["x"])))
        xs += [[ids[c] for c in row] for row in d["x"]]
        ys += [ids[c] for c in d["y"]]
    return torch.tensor(xs, dtype=torch.int64), torch.tensor(ys, dtype=torch.int64), parts


class CharLSTM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(80, 8)
        self.lstm = torch.nn.LSTM(8, 256, num_layers=2, batch_first=True)
        self.fc = torch.nn.Linear(256, 80)

    def forward(self, x):
        h, _ = self.lstm(self.embed(x))
        return self.fc(h[:, -1, :])
def read_cifar(d):
    recs = b"".join(open(os.path.join(d, f"data_batch_{i}.bin"), "rb").read() for i in range(1, 6))
    a = np.frombuffer(recs, dtype=np.uint8).reshape(-1, 3073)
    return a[:, 1:].reshape(-1, 3, 32, 32), a[:, 0]


def resnet18(classes=10, widths=(64, 128, 256, 512)):
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.n1 = nn.GroupNorm(math.gcd(cin, 4), cin)
            self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.n2 = nn.GroupNorm(math.gcd(cout, 4), cout)
            self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.sc = nn.Conv2d(cin, cout, 1, stride, bias=False) if stride != 1 or cin != cout else None

        def forward(self, x):
            a = F.relu(self.n1(x))
            s = self.sc(a) if self.sc is not None else x
            return self.c2(F.relu(self.n2(self.c1(a)))) + s

    layers, c = [nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)], widths[0]
    for s, w in enumerate(widths):
        for j in range(2):
            layers.append(Block(c, w, 2 if s > 0 and j == 0 else 1))
            c = w
    layers += [nn.GroupNorm(math.gcd(c, 4), c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes)]
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--batch", type=int, action="append", help="batch size (repeatable; default 10 and 64)")
    ap.add_argument("--rounds", type=int, default=10, help="timed rounds per batch size (after 1 warm-up)")
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--per-round", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--model", choices=["2nn", "cnn", "lstm", "resnet18"], default="2nn")
    ap.add_argument("--cifar", help="resnet18: folder of the CIFAR-10 binary files")
    a = ap.parse_args()
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    g = torch.Generator().manual_seed(a.seed)
    if a.model == "lstm":
        X, Y, parts = read_leaf_text(a.data)
        a.clients = len(parts)
    else:
        if a.model == "resnet18":
            x, y = read_cifar(a.cifar)
        else:
            x = read_idx(os.path.join(a.data, "train-images-idx3-ubyte.gz"))
            y = read_idx(os.path.join(a.data, "train-labels-idx1-ubyte.gz"))
        X = torch.from_numpy(x.reshape(len(x), -1).astype(np.float32) / 255.0)
        if a.model == "resnet18":
            X = X.reshape(len(x), 3, 32, 32)
        elif a.model == "cnn":
            X = X.reshape(len(x), 1, 28, 28)
        Y = torch.from_numpy(y.astype(np.int64))
        perm = torch.randperm(len(X), generator=g)
        share = len(X) // a.clients
        parts = [perm[k * share:(k + 1) * share] for k in range(a.clients)]

    torch.manual_seed(a.seed)
    if a.model == "lstm":
        model = CharLSTM()
    elif a.model == "resnet18":
        model = resnet18()
    elif a.model == "cnn":
        model = torch.nn.Sequential(
            torch.nn.Conv2d(1, 32, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(32, 64, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(3136, 512), torch.nn.ReLU(),
            torch.nn.Linear(512, 10))
    else:
        model = torch.nn.Sequential(
            torch.nn.Linear(784, 200), torch.nn.ReLU(),
            torch.nn.Linear(200, 200), torch.nn.ReLU(),
            torch.nn.Linear(200, 10))
    params = list(model.parameters())
    vec = torch.nn.utils.parameters_to_vector
    unvec = torch.nn.utils.vector_to_parameters
    opt = torch.optim.SGD(params, lr=a.lr)
    lossf = torch.nn.CrossEntropyLoss()

    for B in a.batch or [10, 64]:
        glob = vec(params).detach().clone()
        times, cpus = [], []
        for r in range(a.rounds + 1):  # round 0: warm-up, not timed
            t0, c0 = time.perf_counter(), time.process_time()
            sel = torch.randperm(a.clients, generator=g)[:a.per_round].tolist()
            acc = torch.zeros_like(glob)
            wsum = 0.0
            for k in sel:
                idx = parts[k]
                n = len(idx)
                unvec(glob, params)
                for _ in range(a.epochs):
                    order = idx[torch.randperm(n, generator=g)]
                    for b0 in range(0, n, B):
                        bi = order[b0:b0 + B]
                        opt.zero_grad(set_to_none=True)
                        loss = lossf(model(X[bi]), Y[bi])
                        loss.backward()
                        opt.step()
                with torch.no_grad():
                    acc.add_(vec(params) - glob, alpha=float(n))
                wsum += n
            glob.add_(acc, alpha=1.0 / wsum)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            if r > 0:
                times.append(dt * 1e3)
                cpus.append(dc * 1e3)
        print(f"pytorch B={B} rounds={len(times)} median_ms={statistics.median(times):.2f} "
              f"min_ms={min(times):.2f} max_ms={max(times):.2f} cpu_ms={statistics.median(cpus):.2f} "
              f"torch={torch.__version__} model={a.model}", flush=True)


if __name__ == "__main__":
    main()
