"""The machine's roof, measured once per run by the C++ extension (csrc/roof.cpp):
``roof_fma`` runs a register-resident float32 FMA loop on every thread (GFLOP/s) and
``roof_copy`` a large memory copy (GB/s). Until the extension has them the roof is n/a:
no figure is ever invented."""

from __future__ import annotations

from .harness import Result

COPY_BYTES = 256 << 20  # well past any L3 on the machines we run (Zen 4: 32 MiB per CCD)


def measure(fma_seconds: float = 0.1, copy_bytes: int = COPY_BYTES, copy_reps: int = 5) -> dict:
    """{"fma_gflops", "copy_gbs", "reason"}: values are None (with the reason) when unavailable."""
    out = {"fma_gflops": None, "copy_gbs": None, "reason": "", "copy_bytes": copy_bytes}
    try:
        from ..backends.cpp._loader import load

        mod = load()
    except Exception as exc:
        out["reason"] = f"the C++ extension is unavailable: {exc}"
        return out
    fma = getattr(mod, "roof_fma", None)
    if fma is None:
        out["fma_reason"] = "fastnn._C has no roof_fma yet"
    else:
        # best of five short windows: on a shared machine one window can catch a busy moment
        out["fma_gflops"] = max(float(fma(seconds=fma_seconds, threads=0)) for _ in range(5))
    copy = getattr(mod, "roof_copy", None)
    if copy is None:
        out["copy_reason"] = "fastnn._C has no roof_copy yet"
    else:
        out["copy_gbs"] = float(copy(copy_bytes, copy_reps))
    out["reason"] = "; ".join(out[k] for k in ("fma_reason", "copy_reason") if k in out)
    return out


def rows(roof: dict) -> list:
    """The roof as report rows (kernel "roof"), n/a with the reason when not measured."""
    fma, copy = roof.get("fma_gflops"), roof.get("copy_gbs")
    why = roof.get("reason") or "not measured"
    mib = roof.get("copy_bytes", COPY_BYTES) >> 20
    return [
        Result(
            "roof",
            "fp32 FMA peak",
            "cpp",
            "fastnn",
            "ok" if fma else "n/a",
            "" if fma else roof.get("fma_reason", why),
            gflops=fma,
            pct_roof=100.0 if fma else None,
        ),
        Result(
            "roof",
            f"copy {mib} MiB",
            "cpp",
            "fastnn",
            "ok" if copy else "n/a",
            "" if copy else roof.get("copy_reason", why),
            unit="GB/s",
            rate=copy,
        ),
    ]
