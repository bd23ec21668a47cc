"""``--plot``: one panel per kernel family (grouped bars per size, one bar per backend and
reference, GFLOP/s on a log axis, the measured FMA roof drawn in) and the training-step race
(steps/s per model). Rows that are n/a or FAIL are marked at the foot of their slot."""

from __future__ import annotations

import math

FAMILIES = ("gemm", "conv2d", "lstm", "attention")
COLORS = {
    "cpp": "#1f77b4",
    "numba": "#2ca02c",
    "cuda": "#9467bd",
    "reference": "#7f7f7f",
    "numpy": "#ff7f0e",
    "torch": "#d62728",
    "cupy": "#8c564b",
    "torch-cuda": "#e377c2",
}


def write(run: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, roof = run["rows"], run["roof"].get("fma_gflops")
    panels = [f for f in FAMILIES if any(r.kernel == f for r in rows)]
    if any(r.kernel == "train" for r in rows):
        panels.append("train")
    if not panels:
        panels = ["roof"]
    ncols = 1 if len(panels) == 1 else 2
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(7.5 * ncols, 4.8 * nrows), squeeze=False, layout="constrained"
    )
    for ax, family in zip(axes.flat, panels):
        _panel(ax, family, [r for r in rows if r.kernel == family], roof)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    info = run["machine"]
    fig.suptitle(
        f"fastnn bench --sizes {run['sizes']}  |  {info.get('cpu')}, "
        f"{info.get('threads')} threads  |  {info.get('date')}",
        fontsize=10,
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _panel(ax, family, rows, roof):
    from matplotlib.patches import Patch

    train = family == "train"
    value = (lambda r: r.rate) if train else (lambda r: r.gflops)
    sizes = list(dict.fromkeys(r.size for r in rows))
    backends = list(dict.fromkeys(r.backend for r in rows))
    width = 0.8 / max(len(backends), 1)
    top = max([value(r) for r in rows if value(r)] + ([roof] if roof and not train else []) + [1])
    for j, b in enumerate(backends):
        xs, hs = [], []
        for i, s in enumerate(sizes):
            r = next((r for r in rows if r.size == s and r.backend == b), None)
            if r is None:
                continue
            x = i - 0.4 + width * (j + 0.5)
            if value(r):
                xs.append(x)
                hs.append(value(r))
            else:
                mark = r.status if r.status in ("FAIL", "error") else "n/a"
                ax.text(
                    x,
                    0.02,
                    mark,
                    rotation=90,
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color="red" if mark != "n/a" else "0.4",
                    transform=ax.get_xaxis_transform(),
                    in_layout=False,
                )
        ax.bar(xs, hs, width * 0.95, color=COLORS.get(b, "0.3"))
    if roof and not train:
        ax.axhline(roof, color="k", ls="--", lw=1)
        ax.text(
            len(sizes) - 0.5,
            roof,
            f"FMA roof {roof:.0f} GFLOP/s",
            ha="right",
            va="bottom",
            fontsize=7,
            in_layout=False,
        )
    ax.set_xlim(-0.5, len(sizes) - 0.5)
    ax.set_yscale("log")
    ax.set_ylim(top=top * 2.5)
    ax.set_xticks(range(len(sizes)))
    ax.set_xticklabels(sizes, rotation=25, ha="right", fontsize=7)
    ax.set_ylabel("steps/s" if train else "GFLOP/s (log)")
    ax.set_title("training-step race (fastnn vs PyTorch)" if train else family, fontsize=10)
    ax.grid(axis="y", which="both", alpha=0.25)
    if not any(value(r) for r in rows):
        reasons = sorted({r.reason for r in rows if r.reason})
        ax.text(
            0.5,
            0.55,
            "nothing timed\n" + "\n".join(x[:70] for x in reasons[:3]),
            ha="center",
            va="center",
            fontsize=8,
            color="0.3",
            transform=ax.transAxes,
            in_layout=False,
        )
    if backends:
        ax.legend(
            [Patch(color=COLORS.get(b, "0.3")) for b in backends],
            backends,
            fontsize=7,
            ncol=min(len(backends), 4),
            loc="upper right",
        )
