#!/usr/bin/python3
"""hetfl-plot — figures (PNG, PDF, SVG) from hetfl results files.

  hetfl-plot [-o DIR] [--format png,pdf,svg] [--dpi N] [--title TEXT] [--target ACC]
             [--no-heatmap] FILE.h5...
  hetfl-plot [-o DIR] --scaling SUMMARY.tsv [FILE.h5...]

Writes into DIR (default .), one file per format (default png):
  accuracy.*                test accuracy vs rounds, simulated time, cumulative energy
                            and cumulative carbon, one line per run; runs that differ
                            only by seed (same /config but run.seed/run.output, as in
                            `hetfl report`) are drawn as their mean with a ±sd band;
                            one legend under the four panels
  participation-<run>.*     per run: clients x rounds, each cell coloured by the
                            client's outcome in that round (blank: not selected),
                            rows grouped by device class
  width-accuracy.*          HeteroFL / FjORD / FedDF runs: accuracy per width vs round
                            (/rounds_by_width), one panel per run
  feddf.*                   FedDF runs (/feddf), one row of panels per run, one line per
                            architecture group: validation accuracy of the group's
                            FedAvg model (dashed) and of the distilled student kept
                            (solid); distillation steps run and step kept; measured
                            server compute per round (legend: the group's server memory)
  client-accuracy.*         runs with per-client evaluation (/client_eval,
                            data.client_test_fraction): left, the mean (solid) and
                            10th-percentile (dashed) accuracy of the clients' own models
                            and the global model's test accuracy (dotted) vs round;
                            right, the distribution (ECDF) of the clients' accuracies at
                            the last evaluated round, one line per run
  stream.*                  data-stream runs (/stream, stream.rate or stream.trace):
                            left, the samples the clients have received (solid) and
                            hold in their memories (dashed) vs round, all clients;
                            right, the clients whose stream has ended vs round; one
                            colour per run
  privacy.*                 runs with a membership attack (/privacy, privacy.attack):
                            left, the attack's AUC vs round (0.5: chance), one line per
                            run (legend: the run's DP epsilon, root attribute
                            dp_epsilon); right, final test accuracy vs mean AUC, one
                            point per run (the privacy-utility trade-off)
  attribute.*               runs with an attribute attack (/attribute_inference,
                            privacy.attribute_attack): left, the share of the target's
                            samples whose attribute it guesses right vs round, one line
                            per run (legend: what it observes — the global model, each
                            upload, the uploads combined — and the run's DP epsilon),
                            the majority baseline dotted in the run's colour (legend:
                            its value); middle, the attack's AUC vs round (0.5:
                            chance); right, final test accuracy vs the attack's mean
                            AUC, one point per run
  consensus.*               decentralized runs: consensus distance vs round (log scale)
  scaling.*                 from slurm/scaling.sh's summary.tsv: wall time per round
                            and parallel efficiency vs ranks, weak and strong series

Figures carry no title (papers set captions); --title adds one.  Incomplete runs
(status other than completed) are drawn like the others, their label marked
"(incomplete)".

Needs h5py and matplotlib (Debian: python3-h5py python3-matplotlib); the shebang
names Debian's /usr/bin/python3 because a pyenv/conda python3 on PATH usually
lacks them.  The installed copy uses the interpreter configure found.
"""
import argparse
import os
import re
import sys

try:
    import h5py
    import numpy as np
    import matplotlib
    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap, BoundaryNorm
    from matplotlib.patches import Patch
    from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator, NullFormatter
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.stderr.write("hetfl-plot: %s\nHINT: apt-get install python3-h5py python3-matplotlib "
                     "(and run it with /usr/bin/python3)\n" % e)
    sys.exit(2)

# outcome name -> colour; outcomes added later get a colour from the fallback cycle
OUTCOME_COLOURS = {
    "completed": "#2e7d32",
    "dropped_offline": "#c62828",
    "late": "#ef6c00",
    "over_budget": "#6a1b9a",
    "overcommitted": "#1565c0",
    "straggler": "#6d4c41",
    "partial": "#9e9d24",
    "backup": "#00838f",
}
FALLBACK = ["#ad1457", "#4527a0", "#283593", "#00695c", "#558b2f", "#f9a825", "#4e342e"]


class Run:
    """One results file: /rounds, /participation, /config and the root attributes."""

    def __init__(self, path):
        self.path = path
        with h5py.File(path, "r") as f:
            if "rounds" not in f or "config" not in f:
                raise ValueError("%s: not a hetfl results file (no /rounds or /config)" % path)
            self.rounds = f["rounds"][:]
            self.part = f["participation"][:] if "participation" in f else None
            enum = h5py.check_enum_dtype(f["participation"].dtype["outcome"]) if self.part is not None else None
            # code -> name, from the file's own HDF5 enum type
            self.outcomes = {v: k for k, v in enum.items()} if enum else {0: "completed"}
            # client -> device class (heatmap rows are grouped by class)
            self.client_class = {}
            if "clients" in f:
                c = f["clients"][:]
                for i, dc in zip(c["id"], c["device_class"]):
                    self.client_class[int(i)] = dc.decode() if isinstance(dc, bytes) else str(dc)
            self.by_width = f["rounds_by_width"][:] if "rounds_by_width" in f else None
            self.feddf = f["feddf"][:] if "feddf" in f else None
            self.client_eval = f["client_eval"][:] if "client_eval" in f else None
            self.privacy = f["privacy"][:] if "privacy" in f else None
            self.stream = f["stream"][:] if "stream" in f else None
            self.attribute = f["attribute_inference"][:] if "attribute_inference" in f else None
            self.dp_epsilon = float(f.attrs["dp_epsilon"]) if "dp_epsilon" in f.attrs else None
            st = f.attrs.get("status", "")
            self.status = st.decode() if isinstance(st, bytes) else str(st)
            cfg = f["config"][()]
            self.config = cfg.decode() if isinstance(cfg, bytes) else str(cfg)
            self.seed = int(f.attrs.get("seed", -1))
            self.variant = int(f.attrs.get("variant", -1))
        m = re.search(r"^\[run\][^\[]*?^name\s*=\s*(\S+)", self.config, re.M | re.S)
        self.name = m.group(1) if m else os.path.basename(path)
        self.key = group_key(self.config)

    uniq = ""  # suffix that keeps labels (and file names) of different runs apart

    def label(self, with_seed=True):
        s = self.name + ("-v%d" % self.variant if self.variant >= 0 else "")
        s += ("-s%d" % self.seed if with_seed else "") + self.uniq
        return s + (" (incomplete)" if self.status and self.status != "completed" else "")

    def file_label(self):
        return re.sub(r"[^A-Za-z0-9_.-]", "_", self.label().replace(" (incomplete)", ""))

    def curves(self):
        """x axes and accuracy at the evaluated rounds."""
        r = self.rounds
        ev = ~np.isnan(r["test_accuracy"])
        return {
            "round": r["round"][ev].astype(float),
            "sim": r["sim_time_s"][ev],
            "energy": np.cumsum(r["energy_j"])[ev],
            "carbon": np.cumsum(r["carbon_g"])[ev],
            "acc": r["test_accuracy"][ev],
        }


def group_key(cfg):
    """/config without [run] seed and output: equal keys = runs that differ only by seed."""
    out, in_run = [], False
    for line in cfg.splitlines():
        if line.startswith("["):
            in_run = line.startswith("[run]")
        if in_run and re.match(r"(seed|output)\s*=", line):
            continue
        out.append(line)
    return "\n".join(out)


def groups_of(runs):
    groups = {}
    for r in runs:
        groups.setdefault(r.key, []).append(r)
    return list(groups.values())


def save(fig, outdir, name, opts, bottom=0.0):
    """Write the figure in every requested format; return the paths.  `bottom`:
    the fraction of the height kept free under the axes (a figure legend)."""
    if opts.title:
        fig.suptitle(opts.title)
    fig.tight_layout(rect=(0, bottom, 1, 0.96 if opts.title else 1))
    paths = []
    for fmt in opts.formats:
        path = os.path.join(outdir, "%s.%s" % (name, fmt))
        fig.savefig(path, dpi=opts.dpi, bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths


def log_ticks(axis):
    """Readable log-axis ticks: 1, 2, 5 x 10^k, labelled as plain numbers."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FormatStrFormatter("%g"))
    axis.set_minor_formatter(NullFormatter())


def plot_accuracy(runs, outdir, target, opts):
    panels = [("round", "round"), ("sim", "simulated time (s)"),
              ("energy", "cumulative energy (J)"), ("carbon", "cumulative carbon (gCO2e)")]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharey=True)
    for g in groups_of(runs):
        cs = [r.curves() for r in g]
        same = len(g) > 1 and len({len(c["acc"]) for c in cs}) == 1
        if same:  # mean ± sd over the seeds of the group
            label = "%s (%d seeds)" % (g[0].label(False), len(g))
            for ax, (k, _) in zip(axes.flat, panels):
                x = np.mean([c[k] for c in cs], axis=0)
                a = np.array([c["acc"] for c in cs])
                line, = ax.plot(x, a.mean(axis=0), label=label)
                sd = a.std(axis=0, ddof=1)
                ax.fill_between(x, a.mean(axis=0) - sd, a.mean(axis=0) + sd, color=line.get_color(), alpha=0.2)
        else:
            for r, c in zip(g, cs):
                for ax, (k, _) in zip(axes.flat, panels):
                    ax.plot(c[k], c["acc"], label=r.label())
    for ax, (_, xl) in zip(axes.flat, panels):
        ax.set_xlabel(xl)
        ax.grid(alpha=0.3)
        if target:
            ax.axhline(target, color="grey", lw=0.8, ls="--")
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy")
    # one legend for all four panels (same lines in each), under them
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if target:
        handles.append(plt.Line2D([], [], color="grey", lw=0.8, ls="--"))
        labels.append("target %g" % target)
    fig.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=8, frameon=False)
    return save(fig, outdir, "accuracy", opts, bottom=0.02 + 0.03 * ((len(labels) + 2) // 3))


def plot_width(runs, outdir, opts):
    """Accuracy of every width vs round (/rounds_by_width), one panel per run."""
    rs = [r for r in runs if r.by_width is not None and len(r.by_width)]
    if not rs:
        return []
    fig, axes = plt.subplots(1, len(rs), figsize=(5 * len(rs), 3.8), sharey=True, squeeze=False)
    for ax, r in zip(axes[0], rs):
        w = r.by_width
        for width in sorted(set(w["width"]), reverse=True):
            m = (w["width"] == width) & ~np.isnan(w["test_accuracy"])
            ax.plot(w["round"][m], w["test_accuracy"][m], label="width %g" % width)
        ax.set_xlabel("round")
        ax.set_title(r.label(), fontsize=9)  # tells the panels apart
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")  # each panel has its own widths
    axes[0, 0].set_ylabel("test accuracy")
    return save(fig, outdir, "width-accuracy", opts)


def plot_feddf(runs, outdir, opts):
    """FedDF per round and group (/feddf): validation accuracy before and after
    distillation, distillation steps, server compute; one row of panels per run."""
    rs = [r for r in runs if r.feddf is not None and len(r.feddf)]
    if not rs:
        return []
    fig, axes = plt.subplots(len(rs), 3, figsize=(13, 3.6 * len(rs)), squeeze=False)
    for row, r in zip(axes, rs):
        d = r.feddf
        a_acc, a_steps, a_comp = row
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for i, width in enumerate(sorted(set(d["width"]), reverse=True)):  # widest first
            c = colours[i % len(colours)]
            g = d[d["width"] == width]
            x = g["round"]
            mem = float(np.max(g["server_mem_bytes"])) if len(g) else 0.0
            ok = ~np.isnan(g["val_accuracy_best"])
            a_acc.plot(x[ok], g["val_accuracy_init"][ok], "--", color=c)
            a_acc.plot(x[ok], g["val_accuracy_best"][ok], "-", color=c, label="width %g" % width)
            a_steps.plot(x, g["distill_steps"], "o-", color=c, ms=3)
            a_steps.plot(x, g["best_step"], "x:", color=c, ms=4)
            a_comp.plot(x, g["server_compute_s"], "o-", color=c, ms=3,
                        label="width %g (%.3g MB)" % (width, mem / 1e6))
        a_acc.set_ylabel("validation accuracy")
        a_steps.set_ylabel("distillation steps")
        a_comp.set_ylabel("server compute (s, measured)")
        a_steps.set_title(r.label(), fontsize=9)  # tells the rows apart
        for ax in row:
            ax.set_xlabel("round")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
        # line styles explained once per panel, next to the groups' colours
        h, l = a_acc.get_legend_handles_labels()
        h += [plt.Line2D([], [], color="grey", ls="--"), plt.Line2D([], [], color="grey", ls="-")]
        l += ["FedAvg of the group", "distilled (kept)"]
        a_acc.legend(h, l, fontsize=7, loc="lower right")
        a_steps.legend([plt.Line2D([], [], color="grey", marker="o", ms=3),
                        plt.Line2D([], [], color="grey", ls=":", marker="x")],
                       ["steps run", "step kept (0: FedAvg model)"], fontsize=7)
        a_comp.legend(title="group (server memory)", fontsize=7, title_fontsize=7)
    return save(fig, outdir, "feddf", opts)


def plot_client_eval(runs, outdir, opts):
    rs = [r for r in runs if r.client_eval is not None and len(r.client_eval)]
    if not rs:
        return []
    fig, (a_t, a_d) = plt.subplots(1, 2, figsize=(11, 4))
    for i, r in enumerate(rs):
        c = "C%d" % (i % 10)
        rd = r.rounds
        m = ~np.isnan(rd["client_acc_mean"])
        a_t.plot(rd["round"][m], rd["client_acc_mean"][m], color=c, label=r.label())
        a_t.plot(rd["round"][m], rd["client_acc_p10"][m], color=c, ls="--")
        g = ~np.isnan(rd["test_accuracy"])
        a_t.plot(rd["round"][g], rd["test_accuracy"][g], color=c, ls=":")
        ce = r.client_eval
        last = ce[(ce["round"] == ce["round"].max()) & (ce["samples"] > 0)]
        acc = np.sort(last["accuracy"])
        a_d.step(acc, np.arange(1, len(acc) + 1) / len(acc), where="post", color=c)
    a_t.set_xlabel("round")
    a_t.set_ylabel("accuracy")
    a_t.grid(alpha=0.3)
    a_t.legend(handles=a_t.get_legend_handles_labels()[0] +
               [plt.Line2D([], [], color="grey"), plt.Line2D([], [], color="grey", ls="--"),
                plt.Line2D([], [], color="grey", ls=":")],
               labels=a_t.get_legend_handles_labels()[1] +
               ["clients' mean", "clients' 10th percentile", "global model, test set"], fontsize=7)
    a_d.set_xlabel("client accuracy on its own split (last evaluated round)")
    a_d.set_ylabel("fraction of clients at or below")
    a_d.grid(alpha=0.3)
    return save(fig, outdir, "client-accuracy", opts)


def plot_stream(runs, outdir, opts):
    """Data streams (/stream): samples received and held, ended streams, per round."""
    rs = [r for r in runs if r.stream is not None and len(r.stream)]
    if not rs:
        return []
    fig, (a_s, a_e) = plt.subplots(1, 2, figsize=(11, 4))
    for i, r in enumerate(rs):
        c = "C%d" % (i % 10)
        st = r.stream
        a_s.plot(st["round"], st["arrived"], color=c, label=r.label())
        a_s.plot(st["round"], st["held"], color=c, ls="--")
        a_e.plot(st["round"], st["exhausted"], color=c)
    a_s.set_xlabel("round")
    a_s.set_ylabel("samples, all clients")
    a_s.grid(alpha=0.3)
    a_s.legend(handles=a_s.get_legend_handles_labels()[0] +
               [plt.Line2D([], [], color="grey"), plt.Line2D([], [], color="grey", ls="--")],
               labels=a_s.get_legend_handles_labels()[1] + ["received", "held in memory"], fontsize=7)
    a_e.set_xlabel("round")
    a_e.set_ylabel("clients whose stream has ended")
    a_e.grid(alpha=0.3)
    return save(fig, outdir, "stream", opts)


def plot_privacy(runs, outdir, opts):
    rs = [r for r in runs if r.privacy is not None and len(r.privacy)]
    if not rs:
        return []
    fig, (a_t, a_u) = plt.subplots(1, 2, figsize=(11, 4))
    for i, r in enumerate(rs):
        c = "C%d" % (i % 10)
        p = r.privacy
        eps = "no DP" if r.dp_epsilon is None else "ε = %.3g" % r.dp_epsilon
        a_t.plot(p["round"], p["auc"], color=c, marker="o", ms=3, label="%s (%s)" % (r.label(), eps))
        acc = r.rounds["test_accuracy"][~np.isnan(r.rounds["test_accuracy"])]
        if len(acc):
            a_u.scatter([np.mean(p["auc"])], [acc[-1]], color=c)
    a_t.axhline(0.5, color="grey", lw=0.8, ls="--")
    a_t.set_xlabel("round")
    a_t.set_ylabel("membership attack AUC")
    a_t.grid(alpha=0.3)
    a_t.legend(fontsize=7)
    a_u.axvline(0.5, color="grey", lw=0.8, ls="--")
    a_u.set_xlabel("mean attack AUC (0.5: chance)")
    a_u.set_ylabel("final test accuracy")
    a_u.grid(alpha=0.3)
    return save(fig, outdir, "privacy", opts)


ATTRIBUTE_OBSERVED = {0: "global model", 1: "each upload", 2: "uploads combined", 3: "local optimum reconstructed"}


def plot_attribute(runs, outdir, opts):
    rs = [r for r in runs if r.attribute is not None and len(r.attribute)]
    if not rs:
        return []
    fig, (a_a, a_u, a_t) = plt.subplots(1, 3, figsize=(15, 4))
    for i, r in enumerate(rs):
        c = "C%d" % (i % 10)
        p = r.attribute
        eps = "no DP" if r.dp_epsilon is None else "ε = %.3g" % r.dp_epsilon
        seen = ATTRIBUTE_OBSERVED.get(int(p["observed"][0]), "observed %d" % p["observed"][0])
        a_a.plot(p["round"], p["accuracy"], color=c, marker="o", ms=3, label="%s: %s (%s)" % (r.label(), seen, eps))
        a_a.plot(p["round"], p["majority"], color=c, lw=0.8, ls=":",
                 label="%s: majority %.3g" % (r.label(), p["majority"][0]))
        a_u.plot(p["round"], p["auc"], color=c, marker="o", ms=3)
        acc = r.rounds["test_accuracy"][~np.isnan(r.rounds["test_accuracy"])]
        if len(acc):
            a_t.scatter([np.mean(p["auc"])], [acc[-1]], color=c)
    a_a.set_xlabel("round")
    a_a.set_ylabel("attribute attack accuracy")
    a_a.grid(alpha=0.3)
    a_a.legend(fontsize=7)
    a_u.axhline(0.5, color="grey", lw=0.8, ls="--")
    a_u.set_xlabel("round")
    a_u.set_ylabel("attribute attack AUC")
    a_u.grid(alpha=0.3)
    a_t.axvline(0.5, color="grey", lw=0.8, ls="--")
    a_t.set_xlabel("mean attribute attack AUC (0.5: chance)")
    a_t.set_ylabel("final test accuracy")
    a_t.grid(alpha=0.3)
    return save(fig, outdir, "attribute", opts)


def plot_consensus(runs, outdir, opts):
    rs = [r for r in runs if "consensus_distance" in r.rounds.dtype.names
          and np.any(~np.isnan(r.rounds["consensus_distance"]))]
    if not rs:
        return []
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in rs:
        m = ~np.isnan(r.rounds["consensus_distance"]) & (r.rounds["consensus_distance"] > 0)
        ax.plot(r.rounds["round"][m], r.rounds["consensus_distance"][m], label=r.label())
    ax.set_yscale("log")
    log_ticks(ax.yaxis)
    ax.set_xlabel("round")
    ax.set_ylabel("consensus distance (1/N) Σ‖x_i − x̄‖²")
    ax.grid(alpha=0.3, which="both")
    if len(rs) > 1:
        ax.legend(fontsize=8)
    return save(fig, outdir, "consensus", opts)


MAX_ROWS = 400  # clients shown in a heatmap (the first ones ever selected)


def plot_participation(run, outdir, opts):
    p = run.part
    if p is None or len(p) == 0:
        return []
    nround = int(run.rounds["round"].max()) if len(run.rounds) else int(p["round"].max())
    clients = np.unique(p["client"])
    note = ""
    if len(clients) > MAX_ROWS:
        note = " (first %d of %d clients ever selected)" % (MAX_ROWS, len(clients))
        clients = clients[:MAX_ROWS]
        p = p[np.isin(p["client"], clients)]
    # rows grouped by device class (class order: first appearance by client id), then id
    cls = [run.client_class.get(int(c), "") for c in clients]
    order_cls = list(dict.fromkeys(cls))
    perm = sorted(range(len(clients)), key=lambda i: (order_cls.index(cls[i]), clients[i]))
    clients = clients[perm]
    cls = [cls[i] for i in perm]
    row = {c: i for i, c in enumerate(clients)}
    codes = sorted(run.outcomes)
    grid = np.full((len(clients), nround), -1, dtype=int)
    for rec in p:
        grid[row[rec["client"]], int(rec["round"]) - 1] = int(rec["outcome"])
    colours, fb = ["#f4f4f4"], iter(FALLBACK)
    for c in codes:
        colours.append(OUTCOME_COLOURS.get(run.outcomes[c]) or next(fb, "#000000"))
    cmap = ListedColormap(colours)
    # map codes to consecutive indices so the colour map lines up with any code set
    idx = np.zeros_like(grid)
    for i, c in enumerate(codes):
        idx[grid == c] = i + 1
    fig, ax = plt.subplots(figsize=(10, max(3.0, min(8.0, 0.02 * len(clients) + 2))))
    ax.imshow(idx, aspect="auto", interpolation="nearest", cmap=cmap,
              norm=BoundaryNorm(np.arange(-0.5, len(codes) + 1.5), cmap.N),
              extent=(0.5, nround + 0.5, len(clients) - 0.5, -0.5))
    ax.set_xlabel("round")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    grouped = len(order_cls) > 1 or (order_cls and order_cls[0])
    ax.set_ylabel(("client id" if len(clients) <= 30 else "client (%d ever selected)" % len(clients)) +
                  (", grouped by device class" if grouped else ""))
    if len(clients) <= 30:
        ax.set_yticks(range(len(clients)))
        ax.set_yticklabels([str(c) for c in clients], fontsize=7)
    if grouped:  # a line between classes, the class name at the right of its block
        start = 0
        for k in range(1, len(cls) + 1):
            if k == len(cls) or cls[k] != cls[start]:
                if start > 0:
                    ax.axhline(start - 0.5, color="black", lw=0.8)
                ax.text(1.005, 1 - (start + k) / 2 / len(cls), cls[start], transform=ax.transAxes,
                        fontsize=7, va="center", ha="left")
                start = k
    counts = {c: int(np.sum(run.part["outcome"] == c)) for c in codes}
    handles = [Patch(color=colours[i + 1], label="%s (%d)" % (run.outcomes[c], counts[c]))
               for i, c in enumerate(codes) if counts[c] > 0]
    handles.append(Patch(color=colours[0], label="not selected"))
    ax.legend(handles=handles, fontsize=8, loc="upper left",
              bbox_to_anchor=(1.08 if grouped else 1.0, 1.0))
    if note:
        ax.text(0, 1.01, note.strip(), transform=ax.transAxes, fontsize=7)
    return save(fig, outdir, "participation-%s" % run.file_label(), opts)


def plot_scaling(summary, outdir, opts):
    rows = []
    with open(summary) as f:
        head = f.readline().rstrip("\n").split("\t")
        for line in f:
            if line.strip():
                rows.append(dict(zip(head, line.rstrip("\n").split("\t"))))
    if not rows:
        raise ValueError("%s: no data rows" % summary)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for s in ("strong", "weak"):
        pts = sorted((int(r["ranks"]), float(r["wall_per_round_s"]), float(r["efficiency"]))
                     for r in rows if r["series"] == s)
        if not pts:
            continue
        n, t, e = zip(*pts)
        a1.plot(n, t, "o-", label=s)
        a2.plot(n, e, "o-", label=s)
        if s == "strong" and len(n) > 1:  # ideal: T(R0) * R0 / R
            a1.plot(n, [t[0] * n[0] / k for k in n], ":", color="grey", label="ideal strong")
        if s == "weak" and len(n) > 1:  # ideal: T(R0) on every rank count
            a1.plot(n, [t[0]] * len(n), "--", color="grey", lw=0.8, label="ideal weak")
    a1.set_xscale("log", base=2)
    a1.set_yscale("log")
    a1.set_xlabel("MPI ranks")
    a1.set_ylabel("wall time per round (s)")
    a1.legend(fontsize=8)
    a2.axhline(1.0, color="grey", ls=":", lw=0.8)
    a2.set_xscale("log", base=2)
    a2.set_xlabel("MPI ranks")
    a2.set_ylabel("parallel efficiency")
    a2.legend(fontsize=8)
    ranks = sorted({int(r["ranks"]) for r in rows})
    for a in (a1, a2):
        a.grid(alpha=0.3)
        a.set_xticks(ranks)
        a.xaxis.set_major_formatter(FormatStrFormatter("%d"))
        a.xaxis.set_minor_formatter(NullFormatter())
    log_ticks(a1.yaxis)
    a2.set_ylim(0, max(1.1, max(float(r["efficiency"]) for r in rows) * 1.05))
    return save(fig, outdir, "scaling", opts)


def main(argv):
    ap = argparse.ArgumentParser(prog="hetfl-plot", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.split("\n")[1:]))
    ap.add_argument("files", nargs="*", metavar="FILE.h5")
    ap.add_argument("-o", "--outdir", default=".", help="directory for the figures (default .)")
    ap.add_argument("--format", default="png",
                    help="comma-separated file formats: png, pdf, svg (default png)")
    ap.add_argument("--dpi", type=int, default=150, help="resolution of PNGs (default 150)")
    ap.add_argument("--title", default="", help="a title on every figure (default: none)")
    ap.add_argument("--target", type=float, default=0.8, help="target accuracy line (0: none)")
    ap.add_argument("--no-heatmap", action="store_true", help="skip the participation heatmaps")
    ap.add_argument("--scaling", metavar="SUMMARY.tsv", help="plot slurm/scaling.sh's summary")
    a = ap.parse_args(argv)
    a.formats = [x.strip().lower() for x in a.format.split(",") if x.strip()]
    bad = [x for x in a.formats if x not in ("png", "pdf", "svg")]
    if bad or not a.formats or a.dpi <= 0:
        sys.stderr.write("hetfl-plot: --format takes png, pdf, svg (comma-separated), --dpi a positive "
                         "number; got --format %s --dpi %d\n" % (a.format, a.dpi))
        return 2
    if not a.files and not a.scaling:
        ap.print_usage(sys.stderr)
        sys.stderr.write("hetfl-plot: give results files and/or --scaling SUMMARY.tsv\n")
        return 2
    try:
        runs = [Run(p) for p in a.files]
    except (OSError, ValueError, KeyError) as e:
        sys.stderr.write("hetfl-plot: %s\n" % e)
        return 2
    seen = {}
    for r in runs:  # same name/variant/seed in several files (e.g. --set differs): number them
        n = seen[r.file_label()] = seen.get(r.file_label(), 0) + 1
        if n > 1:
            r.uniq = "#%d" % n
    os.makedirs(a.outdir, exist_ok=True)
    written = []
    if runs:
        written += plot_accuracy(runs, a.outdir, a.target, a)
        written += plot_width(runs, a.outdir, a)
        written += plot_feddf(runs, a.outdir, a)
        written += plot_client_eval(runs, a.outdir, a)
        written += plot_stream(runs, a.outdir, a)
        written += plot_privacy(runs, a.outdir, a)
        written += plot_attribute(runs, a.outdir, a)
        written += plot_consensus(runs, a.outdir, a)
        if not a.no_heatmap:
            for r in runs:
                written += plot_participation(r, a.outdir, a)
    if a.scaling:
        try:
            written += plot_scaling(a.scaling, a.outdir, a)
        except (OSError, ValueError, KeyError) as e:
            sys.stderr.write("hetfl-plot: %s\n" % e)
            return 2
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
