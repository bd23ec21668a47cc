"""``python -m fastnn bench [KERNEL ...] [--backend NAME ...] [--sizes quick|full] [--json PATH]
[--markdown PATH] [--plot PATH] [--threads N] [--clock wall|thread|process] [--shape F=S ...]
[--variant KERNEL=VERSION ...] [--naive]``"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import shlex
import sys
import time

KERNELS = ("roof", "gemm", "conv2d", "lstm", "attention", "train")
PROG = "python -m fastnn bench"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="The fastnn benchmark report: roof, then each kernel validated against the "
        "float64 reference and timed interleaved with NumPy/PyTorch (and CuPy/PyTorch CUDA on a "
        "GPU), then the training-step race.",
        epilog="Exit status: 0; 1 when a kernel FAILs validation or errors; 2 for a usage error.",
    )
    p.add_argument(
        "kernels", nargs="*", metavar="KERNEL", help=f"any of {', '.join(KERNELS)} (default: all)"
    )
    p.add_argument(
        "--backend",
        action="extend",
        nargs="+",
        metavar="NAME",
        default=None,
        help="fastnn backends to time (default: every available one but reference)",
    )
    p.add_argument(
        "--sizes",
        default="quick",
        choices=("quick", "full", "tiny"),
        help="quick (< 3 min on 2 cores), full (the docs), tiny (smoke test)",
    )
    p.add_argument("--json", metavar="PATH", help="write every sample and the machine info")
    p.add_argument("--markdown", metavar="PATH", help="write the table as markdown")
    p.add_argument("--plot", metavar="PATH", help="write a PNG: bars per kernel/size, roof, race")
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="threads for fastnn (OpenMP + Numba), PyTorch and NumPy's BLAS",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="KERNEL=VERSION",
        help="time a registered kernel version instead of the automatic choice, e.g. "
        "conv2d_forward=v1 (python -m fastnn info lists them); repeatable",
    )
    p.add_argument(
        "--clock",
        default="wall",
        choices=("wall", "thread", "process"),
        help="CPU timer of the samples: wall (default), or the CPU time of the calling thread or "
        "of the process, which leaves out the time other jobs held the core (a shared machine); "
        "thread and process need --threads 1",
    )
    p.add_argument(
        "--shape",
        action="append",
        default=[],
        metavar="FAMILY=SET|DIMS",
        help="time FAMILY at a shape set (tiny, quick, full or a named one: gemm=train|trans|"
        "fused|small|square, conv2d=CNN1..RN512, lstm=seq128|h512|cell) or at DIMS "
        "(gemm=M,N,K[,ta][,tb][,bias][,relu], conv2d=N,C,H,W,OC[,K[,STRIDE[,PAD]]], "
        "lstm=T,B,I,H, attention=B,H,L,D) instead of its --sizes cases (--sizes still sets "
        "the timing budget); repeatable; without KERNEL arguments only these families run",
    )
    p.add_argument(
        "--naive",
        action="store_true",
        help="also time the naive attention forward (PyTorch matmul, softmax, matmul: the L x L "
        "scores in memory) as a reference",
    )
    return p


def _variants(specs, names, backends) -> dict:
    """{kernel: version} from --variant, checked against every timed backend's registry."""
    out = {}
    for spec in specs:
        kernel, sep, version = spec.partition("=")
        if not sep or not version:
            raise ValueError(f"--variant {spec!r}: expected KERNEL=VERSION")
        if kernel not in backends.KERNELS:
            raise ValueError(f"--variant {spec!r}: unknown kernel {kernel!r}")
        for name in names:
            reg = backends.versions(name).get(kernel)
            if version != "auto" and (reg is None or version not in reg.choices):
                have = ", ".join(reg.choices) if reg else "none"
                raise ValueError(f"--variant {spec!r}: backend {name!r} has no such version "
                                 f"(registered: {have}); choose backends with --backend")
        out[kernel] = version
    return out


def _fail(msg: str) -> int:
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage and the error
        return int(exc.code or 0)
    from .. import backends

    unknown = [k for k in args.kernels if k not in KERNELS]
    if unknown:
        return _fail(
            f"unknown kernel {', '.join(map(repr, unknown))}; choose from {', '.join(KERNELS)}"
        )
    known = backends.names()
    bad = [b for b in (args.backend or []) if b not in known]
    if bad and set(bad) <= set(KERNELS):
        return _fail(
            f"unknown backend {', '.join(map(repr, bad))}: kernels go before --backend "
            f"(fastnn backends: {', '.join(known)})"
        )
    if bad:
        return _fail(
            f"unknown backend {', '.join(map(repr, bad))}; fastnn backends: "
            f"{', '.join(known)} (the references NumPy/PyTorch/CuPy always run when "
            "installed)"
        )
    if args.threads is not None and args.threads < 1:
        return _fail(f"--threads: expected a positive int, got {args.threads}")
    if args.clock != "wall" and args.threads != 1:
        return _fail(
            f"--clock {args.clock} counts the CPU time of one thread of work: use it with "
            "--threads 1 (every library then computes in the calling thread)"
        )
    from . import shapes

    try:
        args.shapes = shapes.parse_all(args.shape)
    except ValueError as exc:
        return _fail(str(exc))
    left_out = [f for f in args.shapes if args.kernels and f not in args.kernels]
    if left_out:
        return _fail(
            f"--shape for {', '.join(left_out)}, which the KERNEL arguments "
            f"({' '.join(args.kernels)}) leave out: name it there too, or name no KERNEL"
        )
    if args.variant and not args.backend:  # time the backends that register those versions
        kernels = {v.partition("=")[0] for v in args.variant}
        args.backend = [n for n in known if kernels <= set(backends.versions(n))] or ["cpp"]
    try:
        _variants(args.variant, args.backend or [], backends)
    except ValueError as exc:
        return _fail(str(exc))
    with contextlib.ExitStack() as stack:
        if args.threads:
            stack.enter_context(_threads(args.threads))
        run = execute(args, argv)
    from . import report

    print("\n".join(report.summary_lines(run)))
    print()
    print(report.text_table(run["rows"]))
    if args.json:
        report.write_json(run, args.json)
    if args.markdown:
        report.write_markdown(run, args.markdown)
    if args.plot:
        from . import plot

        plot.write(run, args.plot)
    wrote = [p for p in (args.json, args.markdown, args.plot) if p]
    print(
        f"\n{len(run['rows'])} rows in {run['elapsed_s']:.0f} s"
        + (f"; wrote {', '.join(wrote)}" if wrote else "")
    )
    return 1 if any(r.status in ("FAIL", "error") for r in run["rows"]) else 0


@contextlib.contextmanager
def _threads(n: int):
    import fastnn

    from .specs.base import optional

    fastnn.set_num_threads(n)
    torch, _ = optional("torch")
    if torch is not None:
        torch.set_num_threads(n)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(n):
        yield


def execute(args, argv) -> dict:
    """Run the selected benchmarks; returns the run dict the report functions take."""
    from tqdm import tqdm

    from .. import backends
    from . import harness, machine, report, roof, specs, timing, train

    t0 = time.perf_counter()
    wanted = args.kernels or list(args.shapes or KERNELS)
    names = args.backend or [n for n in backends.names() if n != "reference"]
    skipped = {}
    if not args.backend:  # by default, only backends that can run here (say why the others not)
        for n in list(names):
            ok, why = backends.available(n)
            if not ok or (n == "cuda" and backends._simulated()):
                names.remove(n)
                skipped[n] = why if not ok else "CUDA simulator"
    variants = _variants(args.variant, names, backends)
    info = machine.collect()
    contenders = harness.contenders(names, naive=args.naive)
    clock = args.clock
    budget = dataclasses.replace(timing.BUDGETS[args.sizes], clock=clock)
    chosen = args.shapes
    cases = [
        c
        for f in specs.FAMILIES
        if f in wanted
        for c in (chosen[f] if f in chosen else specs.cases(f, args.sizes))
    ]
    models = train.SIZES[args.sizes] if "train" in wanted else []
    bar = tqdm(
        total=len(cases) * len(contenders) + len(models) + 1,
        desc="fastnn bench",
        file=sys.stderr,
        unit="step",
        dynamic_ncols=True,
    )
    rows = []
    with contextlib.ExitStack() as stack:
        for kernel, version in variants.items():
            for name in names:
                stack.enter_context(backends.use_version(name, kernel, version))
        stack.enter_context(bar)
        bar.set_postfix_str("roof")
        measured = roof.measure() if args.sizes != "tiny" else roof.measure(0.05, 32 << 20, 2)
        if "roof" in wanted:
            rows += roof.rows(measured)
        bar.update(1)
        for i, case in enumerate(cases):
            bar.set_postfix_str(case.label)
            rows += harness.measure_case(
                case, contenders, seed=args.seed + i, budget=budget, progress=bar
            )
        if models:
            bar.set_postfix_str("train")
            train_budget = dataclasses.replace(budget, seconds=budget.seconds * 4, min_sample=0.0)
            racers = contenders
            if args.sizes == "quick" and not args.backend:
                # quick races fastnn as a user gets it (the best CPU backend) against PyTorch;
                # every backend races in full or when --backend names them
                best = [c for c in contenders if c.kind == "fastnn" and c.device == "cpu"][:1]
                racers = best + [c for c in contenders if c.kind != "fastnn"]
                if best:
                    skipped["train on other backends"] = "quick races the best CPU backend only"
            rows += train.race(
                racers, args.sizes, seed=args.seed, budget=train_budget, progress=bar
            )
    report.apply_roof(rows, measured)
    return {
        "command": " ".join([PROG, *map(shlex.quote, argv)]),
        "argv": argv,
        "sizes": args.sizes,
        "seed": args.seed,
        "machine": info,
        "roof": measured,
        "rows": rows,
        "skipped": skipped,
        "variants": variants,
        "clock": clock,
        "shapes": args.shape,
        "elapsed_s": time.perf_counter() - t0,
    }
