"""Command line: `python -m fastnn info` and `python -m fastnn bench ...`."""

import argparse
import sys


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: python -m fastnn {info,bench,compat} [...]\n"
            "  info    version, backends (or why not), ISA level, threads, GPU\n"
            "  bench   the benchmark report (python -m fastnn bench --help)\n"
            "  compat  PyTorch's op_db/module_db against fastnn (needs torch; --help)"
        )
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "info":
        argparse.ArgumentParser(prog="python -m fastnn info").parse_args(rest)
        from .info import report

        print(report())
        return 0
    if cmd == "bench":
        from .bench.cli import main as bench_main

        return bench_main(rest)
    if cmd == "compat":
        from .compat import main as compat_main

        return compat_main(rest)
    print(f"python -m fastnn: unknown command {cmd!r}; expected info, bench or compat",
          file=sys.stderr)
    return 2


def cli() -> int:
    """Entry point (python -m fastnn and the `fastnn` script): main() with a quiet broken pipe."""
    try:
        rc = main()
        sys.stdout.flush()
        return rc
    except BrokenPipeError:  # `python -m fastnn info | head`: the reader left; not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(cli())
