"""The report: aligned text table (stdout), markdown (docs/benchmarks.md) and JSON."""

from __future__ import annotations

import json
import statistics

from .harness import REFERENCE_LABELS
from .machine import machine_line

SCHEMA = "fastnn.bench/1"
RATIO_NOTE = (
    "vs X = X's median time / this row's median time, timed interleaved in the same "
    "run (> 1: fastnn is faster)"
)


def apply_roof(rows, roof: dict) -> None:
    """% of the measured FMA roof for every CPU row with a GFLOP/s figure (rows that already
    have one, the training race's 1-thread rows, keep theirs)."""
    peak = roof.get("fma_gflops")
    for r in rows:
        if r.kernel != "roof" and peak and r.gflops and r.device == "cpu" and r.pct_roof is None:
            r.pct_roof = 100.0 * r.gflops / peak


def reference_names(rows) -> list:
    seen = []
    for r in rows:
        for name in r.ratios:
            if name not in seen:
                seen.append(name)
    return sorted(seen, key=list(REFERENCE_LABELS).index)


def _num(v, fmt="{:.3g}"):
    return "" if v is None else fmt.format(v)


def _rate(r) -> str:
    if r.unit == "GFLOP/s":
        return _num(r.gflops, "{:.1f}")
    return "" if r.rate is None else f"{r.rate:.1f} {r.unit}"


def _ms(v) -> str:
    if v is None:
        return ""
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def _cells(r, refs, reason_width=None) -> list:
    status = r.status
    if r.status != "ok" and r.reason:
        reason = (
            r.reason
            if reason_width is None or len(r.reason) <= reason_width
            else r.reason[: reason_width - 1] + "…"
        )
        status = f"{r.status}: {reason}"
    elif r.status == "ok" and r.reason:
        status = f"ok ({r.reason})" if reason_width is None else "ok*"
    spread = "" if r.min_ms is None else f"{_ms(r.min_ms)}-{_ms(r.max_ms)}"
    return [
        r.kernel,
        r.size,
        r.backend,
        _ms(r.median_ms),
        spread,
        _rate(r),
        _num(r.pct_roof, "{:.0f}%"),
        *[_num(r.ratios.get(n), "{:.2f}x") for n in refs],
        _ms(r.first_call_ms),
        status,
    ]


def headers(refs) -> list:
    return [
        "kernel",
        "size",
        "backend",
        "ms",
        "min-max ms",
        "GFLOP/s",
        "% roof",
        *[f"vs {REFERENCE_LABELS[n]}" for n in refs],
        "1st call ms",
        "status",
    ]


def text_table(rows, reason_width: int = 60) -> str:
    refs = reference_names(rows)
    table = [headers(refs)] + [_cells(r, refs, reason_width) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    right = {3, 4, 5, 6, *range(7, 7 + len(refs) + 1)}
    out = []
    for k, line in enumerate(table):
        out.append(
            "  ".join(
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(line, widths))
            ).rstrip()
        )
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def noise(rows) -> dict:
    """How noisy the run was: the relative spread (max - min) / median over the timed rows."""
    spreads = [r.spread for r in rows if r.spread is not None]
    if not spreads:
        return {"median_spread": None, "max_spread": None, "rows": 0}
    return {
        "median_spread": statistics.median(spreads),
        "max_spread": max(spreads),
        "rows": len(spreads),
    }


def summary_lines(run: dict) -> list:
    info, roof, rows = run["machine"], run["roof"], run["rows"]
    lines = [f"Machine: {machine_line(info)}"]
    if roof.get("fma_gflops"):
        copy = f"{roof['copy_gbs']:.1f} GB/s" if roof.get("copy_gbs") else "n/a"
        lines.append(
            f"Roof: float32 FMA {roof['fma_gflops']:.1f} GFLOP/s ({info.get('threads')} "
            f"threads), copy {copy}"
        )
    else:
        lines.append(f"Roof: n/a ({roof.get('reason')}); % roof column empty")
    over = [r for r in rows if r.kernel != "roof" and (r.pct_roof or 0) > 100]
    if over:
        lines.append(
            f"Note: {len(over)} rows exceed 100% of the roof: the roof was measured while "
            "the machine was busier than during those rows (a shared machine)"
        )
    n = noise(rows)
    if n["rows"]:
        lines.append(
            f"Noise: median (max-min)/median spread {100 * n['median_spread']:.0f}% "
            f"(worst {100 * n['max_spread']:.0f}%) over {n['rows']} timed rows; "
            f"load average at start {_load(info)}"
        )
    la, cores = info.get("loadavg"), info.get("cores") or 1
    if la and la[0] > cores:
        lines.append(
            f"Warning: load average {la[0]:.1f} exceeds the {cores} cores: multi-threaded timings "
            "(PyTorch's most of all) are inflated; rerun on a quiet machine or with --threads 1"
        )
    lines.append(f"Ratios: {RATIO_NOTE}")
    if run.get("clock", "wall") != "wall":
        lines.append(
            f"Clock: {run['clock']} CPU time (--clock {run['clock']}): CPU rows are CPU ms of the "
            "one compute thread, without the time other jobs held the core (the roof is "
            "wall-clock, so % roof can exceed 100% on a loaded machine)"
        )
    if run.get("variants"):
        chosen = ", ".join(f"{k}={v}" for k, v in run["variants"].items())
        lines.append(f"Kernel versions: {chosen}")
    if run.get("skipped"):
        lines.append("Not run: " + "; ".join(f"{k} ({v})" for k, v in run["skipped"].items()))
    return lines


def _load(info) -> str:
    la = info.get("loadavg")
    return "n/a" if not la else " ".join(f"{x:.2f}" for x in la)


def markdown(run: dict) -> str:
    rows = run["rows"]
    refs = reference_names(rows)
    info = run["machine"]
    out = [
        f"Command: `{run['command']}`",
        "",
        f"Date: {info.get('date')}",
        "",
        *[f"- {line}" for line in summary_lines(run)],
        "",
        "| " + " | ".join(headers(refs)) + " |",
        "|"
        + "|".join(
            "---" if i < 3 or i == len(headers(refs)) - 1 else "---:"
            for i in range(len(headers(refs)))
        )
        + "|",
    ]
    for r in rows:
        out.append("| " + " | ".join(c.replace("|", "/") for c in _cells(r, refs)) + " |")
    return "\n".join(out) + "\n"


BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def write_markdown(run: dict, path: str) -> None:
    """Write the markdown report; into an existing file that has the ``<!-- bench:begin -->`` /
    ``<!-- bench:end -->`` markers (docs/benchmarks.md), replace only what is between them."""
    body = markdown(run)
    try:
        with open(path) as f:
            old = f.read()
    except OSError:
        old = ""
    if BEGIN in old and END in old.split(BEGIN, 1)[1]:
        head, rest = old.split(BEGIN, 1)
        text = f"{head}{BEGIN}\n{body}{END}{rest.split(END, 1)[1]}"
    else:
        text = body
    with open(path, "w") as f:
        f.write(text)


def to_json(run: dict) -> dict:
    return {
        "schema": SCHEMA,
        "command": run["command"],
        "argv": run["argv"],
        "sizes": run["sizes"],
        "seed": run["seed"],
        "clock": run.get("clock", "wall"),
        "shapes": run.get("shapes", []),
        "date": run["machine"].get("date"),
        "machine": run["machine"],
        "roof": run["roof"],
        "noise": noise(run["rows"]),
        "skipped": run.get("skipped", {}),
        "ratio": RATIO_NOTE,
        "results": [r.to_dict() for r in run["rows"]],
        "elapsed_s": run.get("elapsed_s"),
    }


def write_json(run: dict, path: str) -> None:
    with open(path, "w") as f:
        json.dump(to_json(run), f, indent=1, default=str)
        f.write("\n")
