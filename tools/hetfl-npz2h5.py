#!/usr/bin/env python3
"""hetfl-npz2h5 — convert a NumPy .npz archive into hetfl's generic HDF5 data
set layout (docs/data.md), for `data.dataset = hdf5`.

    hetfl-npz2h5.py IN.npz OUT.h5 [--x x_train] [--y y_train] [--clients NAME]
                    [--test-x x_test] [--test-y y_test] [--n-classes N] [--vocab V]
                    [--channels-last]

Arrays are looked up by name in the archive (defaults: x_train / y_train, then
x / y; x_test / y_test when present).  Inputs keep their shape, (N,D), (N,H,W)
or (N,C,H,W); --channels-last turns (N,H,W,C) images (Keras, TFF) into
(N,C,H,W).  uint8 inputs are stored as uint8 (hetfl scales them by 1/255),
anything else as float32.  Labels and client ids are stored as int64.
Needs numpy and h5py (Debian: apt-get install python3-numpy python3-h5py).
"""
import argparse
import sys


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("npz")
    ap.add_argument("out")
    ap.add_argument("--x", help="training inputs (default x_train, else x)")
    ap.add_argument("--y", help="training labels (default y_train, else y)")
    ap.add_argument("--clients", help="per-sample client ids of the training set (natural partition)")
    ap.add_argument("--test-x", help="test inputs (default x_test if present)")
    ap.add_argument("--test-y", help="test labels (default y_test if present)")
    ap.add_argument("--n-classes", type=int, help="number of classes (default max label + 1)")
    ap.add_argument("--vocab", type=int, help="inputs are token ids in [0, VOCAB) (text)")
    ap.add_argument("--channels-last", action="store_true", help="inputs are (N,H,W,C): store (N,C,H,W)")
    a = ap.parse_args(argv)
    try:
        import numpy as np
        import h5py
    except ImportError as e:
        sys.exit(f"hetfl-npz2h5: {e} (apt-get install python3-numpy python3-h5py; "
                 "Debian's /usr/bin/python3 has them)")
    z = np.load(a.npz, allow_pickle=False)

    def pick(name, *defaults, required=True):
        for n in ([name] if name else list(defaults)):
            if n in z.files:
                return z[n]
        if required:
            sys.exit(f"hetfl-npz2h5: {a.npz}: no array {name or ' / '.join(defaults)} "
                     f"(arrays: {', '.join(z.files)})")
        return None

    def inputs(x):
        if a.channels_last and x.ndim == 4:
            x = np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))
        if x.ndim == 1 or x.ndim > 4:
            sys.exit(f"hetfl-npz2h5: inputs of shape {x.shape}: (N,D), (N,H,W) or (N,C,H,W) expected")
        return x if x.dtype == np.uint8 else x.astype(np.float32)

    def labels(y, n, what):
        y = np.asarray(y).reshape(-1)
        if y.shape[0] != n:
            sys.exit(f"hetfl-npz2h5: {what}: {y.shape[0]} entries for {n} inputs")
        if not np.issubdtype(y.dtype, np.integer):
            if not np.all(np.equal(np.mod(y, 1), 0)):
                sys.exit(f"hetfl-npz2h5: {what}: not integers")
        return y.astype(np.int64)

    x = inputs(pick(a.x, "x_train", "x"))
    y = labels(pick(a.y, "y_train", "y"), x.shape[0], "labels")
    with h5py.File(a.out, "w") as f:
        f.create_dataset("inputs", data=x)
        f.create_dataset("labels", data=y)
        if a.clients:
            f.create_dataset("clients", data=labels(pick(a.clients), x.shape[0], "clients"))
        tx = pick(a.test_x, "x_test", required=bool(a.test_x))
        if tx is not None:
            tx = inputs(tx)
            ty = labels(pick(a.test_y, "y_test"), tx.shape[0], "test labels")
            f.create_dataset("test/inputs", data=tx)
            f.create_dataset("test/labels", data=ty)
        if a.n_classes:
            f.attrs["n_classes"] = np.int64(a.n_classes)
        if a.vocab:
            f.attrs["vocab"] = np.int64(a.vocab)
    print(f"{a.out}: {x.shape[0]} samples of shape {x.shape[1:]}"
          + (f", {tx.shape[0]} test samples" if tx is not None else ""))


if __name__ == "__main__":
    main()
