"""``--shape FAMILY=SET`` and ``--shape FAMILY=DIMS``: time one family at the shapes being tuned.

SET is one of the family's size sets (tiny, quick, full) or a named set below (the shapes the
kernel engineers tuned at); DIMS are the numbers a family's case constructor takes, so any
shape can be timed:

    gemm=M,N,K[,ta][,tb][,bias][,ACTIVATION]  e.g. gemm=256,784,64,ta or gemm=64,256,784,tb,relu
    conv2d=N,C,H,W,OC[,K[,STRIDE[,PAD]]]     e.g. conv2d=8,512,7,7,512 (or conv2d=RN512)
    lstm=T,B,I,H                             e.g. lstm=100,64,512,512 (or lstm=h512)
    attention=B,H,L,D                        e.g. attention=1,8,4096,64

Each gives the same validated cases as the size sets (forward and backward for conv2d, lstm and
attention), built by the constructors in ``specs/<family>.py``.
"""

from __future__ import annotations

from .._math import ACTIVATIONS
from .specs import FAMILIES, SIZES, Case, cases
from .specs import attention as _attention
from .specs import conv2d as _conv2d
from .specs import gemm as _gemm
from .specs import lstm as _lstm

# ResNet/seed-CNN 3x3 layers, stride 1, padding 1: (N, C, H, W, OC)
CONV2D_LAYERS = {
    "CNN1": (64, 3, 24, 24, 32),
    "CNN2": (64, 32, 12, 12, 64),
    "RN64": (8, 64, 56, 56, 64),
    "RN128": (8, 128, 28, 28, 128),
    "RN256": (8, 256, 14, 14, 256),
    "RN512": (8, 512, 7, 7, 512),
}
# GEMM training shapes: batch M x Linear(K -> N) of the seed models
_TRAIN_M = (32, 64, 128, 512)
_TRAIN_KN = ((784, 256), (256, 10), (128, 512), (1024, 1024), (4096, 1024))


_GEMM_SETS = ("square", "small", "train", "trans", "fused")


def _gemm_sets() -> dict:
    train = [(m, n, k) for m in _TRAIN_M for k, n in _TRAIN_KN]
    return {
        "square": [_gemm.case(s, s, s) for s in (256, 512, 1024, 2048)],
        "small": [_gemm.case(s, s, s) for s in (8, 16, 24, 32, 48, 64)],
        "train": [_gemm.case(m, n, k) for m, n, k in train],
        # the Linear backward: dx = dy @ W^T (A B^T) and dW = x^T @ dy (A^T B)
        "trans": [
            c
            for m, n, k in train
            for c in (_gemm.case(m, k, n, trans_b=True), _gemm.case(k, n, m, trans_a=True))
        ],
        "fused": [_gemm.case(m, n, k, bias=True, activation="relu") for m, n, k in train],
    }


def _pairs(module, shapes) -> list:
    return [c for s in shapes for c in (module.forward_case(*s), module.backward_case(*s))]


def _named(family: str) -> dict:
    """{set name: zero-argument maker of the cases} for ``family``."""
    if family == "gemm":
        return {name: (lambda name=name: _gemm_sets()[name]) for name in _GEMM_SETS}
    if family == "conv2d":
        return {
            name: (lambda s=s, name=name: _conv_pair(*s, label=name))
            for name, s in CONV2D_LAYERS.items()
        }
    if family == "lstm":
        return {
            "seq128": lambda: _pairs(_lstm, [(100, 64, 64, 128)]),
            "h512": lambda: _pairs(_lstm, [(100, 64, 512, 512)]),
            "cell": lambda: _pairs(_lstm, [(1, 64, 64, 128)]),  # one LSTMCell step, batch 64
        }
    return {}


def set_names(family: str) -> list:
    return list(SIZES) + list(_named(family))


def _conv_pair(n, c, h, w, oc, k=3, stride=1, pad=1, label="") -> list:
    kw = dict(k=k, stride=stride, pad=pad, label=label)
    return [_conv2d.forward_case(n, c, h, w, oc, **kw), _conv2d.backward_case(n, c, h, w, oc, **kw)]


def _ints(family, spec, text, lo, hi, zero_from=None) -> list:
    """lo..hi ints, all positive (from index ``zero_from`` on, non-negative: conv2d's padding)."""
    try:
        dims = [int(t) for t in text]
    except ValueError:
        dims = []
    least = [0 if zero_from is not None and i >= zero_from else 1 for i in range(len(dims))]
    if not lo <= len(dims) <= hi or any(d < m for d, m in zip(dims, least)):
        raise ValueError(
            f"--shape {spec!r}: expected {family}=" + _USAGE[family] + " (positive ints) or a "
            f"shape set ({', '.join(set_names(family))})"
        )
    return dims


_USAGE = {
    "gemm": "M,N,K[,ta][,tb][,bias][,ACTIVATION]",
    "conv2d": "N,C,H,W,OC[,K[,STRIDE[,PAD]]]",
    "lstm": "T,B,I,H",
    "attention": "B,H,L,D",
}


def parse(spec: str) -> tuple[str, list[Case]]:
    """(family, cases) for one ``--shape FAMILY=SET|DIMS``; ValueError naming what is wrong."""
    family, sep, what = spec.partition("=")
    if family not in FAMILIES:
        raise ValueError(
            f"--shape {spec!r}: unknown family {family!r}; choose from {', '.join(FAMILIES)}"
        )
    if not sep or not what:
        raise ValueError(f"--shape {spec!r}: expected {family}=SET or {family}={_USAGE[family]}")
    if what in SIZES:
        return family, cases(family, what)
    named = _named(family)
    if what in named:
        return family, named[what]()
    parts = what.split(",")
    if family == "gemm":
        m, n, k = _ints(family, spec, parts[:3], 3, 3)
        flags = parts[3:]
        acts = [f for f in flags if f in ACTIVATIONS and f]
        bad = [f for f in flags if f not in ("ta", "tb", "bias") and f not in acts]
        if bad or len(acts) > 1 or len(set(flags)) != len(flags):
            raise ValueError(
                f"--shape {spec!r}: gemm flags are ta, tb, bias and one activation of "
                f"{', '.join(a for a in ACTIVATIONS if a)}; got {','.join(flags)}"
            )
        case = _gemm.case(
            m,
            n,
            k,
            trans_a="ta" in flags,
            trans_b="tb" in flags,
            bias="bias" in flags,
            activation=acts[0] if acts else None,
        )
        return family, [case]
    if family == "conv2d":
        dims = _ints(family, spec, parts, 5, 8, zero_from=7)
        n, c, h, w, oc, *rest = dims
        k = rest[0] if rest else 3
        stride = rest[1] if len(rest) > 1 else 1
        pad = rest[2] if len(rest) > 2 else (k - 1) // 2
        if _conv2d.out_size(min(h, w), k, stride, pad) < 1:
            raise ValueError(f"--shape {spec!r}: a {k}x{k} kernel leaves no output of {h}x{w}")
        label = f"s{stride} p{pad}" if (stride, pad) != (1, (k - 1) // 2) else ""
        return family, _conv_pair(n, c, h, w, oc, k, stride, pad, label=label)
    module = {"lstm": _lstm, "attention": _attention}[family]
    return family, _pairs(module, [_ints(family, spec, parts, 4, 4)])


def parse_all(specs) -> dict:
    """{family: cases} for every ``--shape``, in order; a family named twice gets both."""
    out: dict = {}
    for spec in specs:
        family, found = parse(spec)
        out.setdefault(family, []).extend(found)
    return out
