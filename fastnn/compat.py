"""Conformance against PyTorch's own test databases: ``python -m fastnn compat``.

Walks torch 2.13's ``op_db`` (OpInfo: an op, its sample inputs, dtypes, autograd support) and
``module_db`` (ModuleInfo: constructor arguments and inputs) and runs every entry through fastnn:

* an op is looked up under the same name on ``fastnn`` (``nn.functional.conv2d`` ->
  ``fastnn.nn.functional.conv2d``; ``__radd__`` -> ``fastnn.Tensor.__radd__``); an OpInfo whose
  ``op`` is a wrapper written in torch's test file is run with ``torch`` rebound to ``fastnn`` in
  the wrapper's globals (``import fastnn as torch``, literally);
* each sample is converted (tensors copied, dtypes and sizes mapped), run forward in float32 and
  float64 (the integer or bool dtypes for ops without floating ones) and, where the OpInfo supports
  autograd, backward with a seeded random upstream gradient; outputs and the gradients of every
  floating input are compared with torch's at torch.testing's default tolerances for the dtype,
  widened by the OpInfo's own ``toleranceOverride`` decorators;
* a module is built on both sides from the ModuleInfo's constructor arguments, torch's state_dict
  is loaded into fastnn, then forward, input gradients and parameter gradients are compared in
  train and eval mode.

Each entry ends as ``pass``, ``fail`` (the first mismatch or exception) or ``not implemented``
(fastnn lacks the name, or raises NotImplementedError). One entry crashing or hanging (a per-entry
alarm) never stops the run. torch is imported only when a run starts: ``import fastnn`` stays free
of torch.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
import types
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["Result", "load_databases", "run_op", "run_module", "run", "markdown", "main"]

PASS, FAIL, MISSING = "pass", "fail", "not implemented"


@dataclass
class Result:
    db: str  # "op_db" or "module_db"
    name: str  # OpInfo full name (name.variant) or ModuleInfo name
    status: str  # PASS, FAIL or MISSING
    detail: str = ""  # the first mismatch, the exception, or what is missing
    seconds: float = 0.0


class _Missing(Exception):
    """fastnn has no equivalent of the entry (or part of what a sample needs)."""


class _Mismatch(Exception):
    """fastnn's result differs from torch's."""


class _Timeout(Exception):
    pass


def _torch():
    try:
        import torch
    except ImportError as e:  # pragma: no cover - exercised only on machines without torch
        raise RuntimeError(
            "python -m fastnn compat compares fastnn with PyTorch and needs torch installed "
            "(pip install 'fastnn[test]', which pins torch==2.13.0)"
        ) from e
    return torch


def load_databases():
    """``(op_db, module_db)`` from torch's internal test modules (they need ``expecttest``)."""
    _torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.testing._internal.common_methods_invocations import op_db
        from torch.testing._internal.common_modules import module_db
    return op_db, module_db


@contextlib.contextmanager
def _deadline(seconds):
    """Raise _Timeout in the main thread once the entry has used ``seconds`` of CPU time
    (SIGPROF: fair on a loaded machine) or 5x that of wall time (SIGALRM: an entry that waits);
    a no-op off the main thread or without these signals."""
    usable = seconds and hasattr(signal, "SIGALRM") and hasattr(signal, "SIGPROF")
    if usable:
        import threading

        usable = threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def on_cpu(signum, frame):
        raise _Timeout(f"timed out after {seconds:g} s of CPU time")

    def on_wall(signum, frame):
        raise _Timeout(f"timed out after {5 * seconds:g} s of wall time")

    old = signal.signal(signal.SIGPROF, on_cpu), signal.signal(signal.SIGALRM, on_wall)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    signal.setitimer(signal.ITIMER_REAL, 5 * seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGPROF, old[0])
        signal.signal(signal.SIGALRM, old[1])


# ------------------------------------------------------------------------------- conversion
def _fdtype(torch_dtype):
    import fastnn

    name = str(torch_dtype).replace("torch.", "")
    dt = getattr(fastnn, name, None)
    if dt is None:
        raise _Missing(f"dtype {name}")
    return dt


def _to_fastnn(obj, torch, memo=None):
    """A torch sample value as fastnn sees it: tensors copied (requires_grad kept), dtypes,
    devices, sizes and generators mapped; containers recursively. ``memo`` (a dict shared by the
    calls for one sample) maps a tensor passed twice (KLDivLoss()(x, x)) to one fastnn tensor, so
    gradients accumulate as in torch."""
    import fastnn

    if isinstance(obj, torch.Tensor) and memo is not None and id(obj) in memo:
        return memo[id(obj)]
    if isinstance(obj, torch.Tensor):
        if obj.layout != torch.strided:
            raise _Missing(f"{obj.layout} tensors")
        if obj.is_complex() or obj.dtype in (torch.bfloat16, torch.complex32):
            raise _Missing(f"{obj.dtype} tensors")
        arr = obj.detach().resolve_conj().resolve_neg().numpy().copy()
        t = fastnn.tensor(arr, requires_grad=obj.requires_grad)
        if memo is not None:
            memo[id(obj)] = t
        return t
    if isinstance(obj, torch.dtype):
        return _fdtype(obj)
    if isinstance(obj, torch.device):
        return fastnn.device(str(obj))
    if isinstance(obj, torch.Size):
        return tuple(obj)
    if isinstance(obj, torch.Generator):
        return fastnn.Generator()
    if isinstance(obj, torch.memory_format):
        fmt = getattr(fastnn, str(obj).replace("torch.", ""), None)
        if fmt is None:
            raise _Missing(str(obj))
        return fmt
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_to_fastnn(v, torch, memo) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_fastnn(v, torch, memo) for v in obj)
    if isinstance(obj, dict):
        return {k: _to_fastnn(v, torch, memo) for k, v in obj.items()}
    if isinstance(obj, torch.nn.Module):
        return _module_like(obj, torch)
    module = getattr(obj, "__module__", None) or ""
    if callable(obj) and module.startswith("torch") and not module.startswith("torch.testing"):
        # a torch function passed as an argument (activation=F.gelu): fastnn's namesake
        module = {"torch._C._nn": "torch.nn.functional"}.get(module, module)
        path = module.replace("torch.nn.functional", "nn.functional").split(".")
        path = [p for p in path if p not in ("torch", "_C", "_VariableFunctions")]
        return _resolve(".".join([*path, obj.__name__]))
    return obj


def _module_like(mod, torch):
    """fastnn's namesake of a torch module passed as an argument (TransformerEncoder's
    encoder_layer, an activation module), built from the constructor arguments recorded while the
    sample was made (weights come with the outer module's state_dict)."""
    import fastnn

    cls = getattr(fastnn.nn, type(mod).__name__, None)
    if cls is None:
        raise _Missing(f"nn.{type(mod).__name__}")
    args, kwargs = mod.__dict__.get("_compat_ctor", ((), {}))
    return cls(*_to_fastnn(list(args), torch), **_to_fastnn(dict(kwargs), torch))


@contextlib.contextmanager
def _recording_constructors(torch):
    """Remember each torch.nn module's constructor arguments (on the instance, outermost
    ``__init__`` only) while ModuleInfo samples are built."""
    classes = {c for c in vars(torch.nn).values()
               if isinstance(c, type) and issubclass(c, torch.nn.Module)}
    patched = []
    for cls in classes:
        init = cls.__dict__.get("__init__")
        if init is None:
            continue

        def recording_init(self, *args, _init=init, **kwargs):
            self.__dict__.setdefault("_compat_ctor", (args, kwargs))
            _init(self, *args, **kwargs)

        cls.__init__ = recording_init
        patched.append((cls, init))
    try:
        yield
    finally:
        for cls, init in patched:
            cls.__init__ = init


def _flatten(out, torch):
    """The tensors (and plain values) of an op's result, in order."""
    if isinstance(out, (list, tuple)):
        return [x for o in out for x in _flatten(o, torch)]
    return [out]


def _numpy(x):
    """A fastnn tensor's values as a NumPy array (a 0-d result held as a NumPy scalar counts)."""
    import fastnn

    if isinstance(x, fastnn.Tensor):
        arr = x.detach().array
        return np.asarray(arr) if isinstance(arr, (np.ndarray, np.generic)) else x.numpy()
    return x


# ------------------------------------------------------------------------------- comparison
def _tolerances(torch, dtype, decorators=()):
    from torch.testing._comparison import default_tolerances

    rtol, atol = default_tolerances(dtype)
    for dec in decorators or ():
        for d in getattr(dec, "decorators", [dec]):
            over = getattr(d, "d", None)
            if isinstance(over, dict) and dtype in over:
                tol = over[dtype]
                if isinstance(tol, float):  # precisionOverride: the dtype's atol alone
                    atol = max(atol, tol)
                    continue
                atol = max(atol, tol.atol)
                rtol = max(rtol, tol.rtol)
    return rtol, atol


def _compare(what, f, t, torch, decorators=(), random_values=False):
    """Raise _Mismatch naming ``what`` when fastnn's value ``f`` differs from torch's ``t``
    (``random_values``: shapes and dtypes only)."""
    import fastnn

    if isinstance(t, torch.Tensor):
        if not isinstance(f, fastnn.Tensor):
            raise _Mismatch(f"{what}: expected a Tensor, got {type(f).__name__}")
        fa = np.asarray(_numpy(f))
        ta = t.detach().resolve_conj().resolve_neg().numpy()
        if tuple(fa.shape) != tuple(ta.shape):
            raise _Mismatch(f"{what}: shape {tuple(fa.shape)} != torch {tuple(ta.shape)}")
        if fa.dtype != ta.dtype:
            raise _Mismatch(f"{what}: dtype {fa.dtype} != torch {ta.dtype}")
        if random_values:
            return
        if ta.dtype.kind in "fc":
            rtol, atol = _tolerances(torch, t.dtype, decorators)
            bad = ~np.isclose(fa, ta, rtol=rtol, atol=atol, equal_nan=True)
            if bad.any():
                i = np.unravel_index(int(np.argmax(bad)), bad.shape) if bad.ndim else ()
                raise _Mismatch(
                    f"{what}: {int(bad.sum())}/{bad.size} values differ (first at "
                    f"{tuple(int(j) for j in i)}: {float(fa[i])!r} vs torch {float(ta[i])!r}; "
                    f"rtol={rtol:g} atol={atol:g})"
                )
        elif not np.array_equal(fa, ta):
            raise _Mismatch(f"{what}: values differ ({np.count_nonzero(fa != ta)} elements)")
        return
    if isinstance(t, (list, tuple)):
        fl = list(f) if isinstance(f, (list, tuple)) else None
        if fl is None or len(fl) != len(t):
            raise _Mismatch(f"{what}: expected a sequence of {len(t)}, got {type(f).__name__}")
        for i, (a, b) in enumerate(zip(fl, t)):
            _compare(f"{what}[{i}]", a, b, torch, decorators, random_values)
        return
    if isinstance(t, (bool, int, float)) and not isinstance(f, fastnn.Tensor):
        if isinstance(t, float) and not (f == t or np.isclose(f, t, rtol=1e-6, equal_nan=True)):
            raise _Mismatch(f"{what}: {f!r} != torch {t!r}")
        if not isinstance(t, float) and f != t:
            raise _Mismatch(f"{what}: {f!r} != torch {t!r}")
        return
    if isinstance(t, torch.dtype):
        if str(f).replace("fastnn.", "") != str(t).replace("torch.", ""):
            raise _Mismatch(f"{what}: {f!r} != torch {t!r}")
        return
    if t is None and f is None:
        return
    if isinstance(f, fastnn.Tensor) and isinstance(t, (bool, int, float)):
        raise _Mismatch(f"{what}: expected a Python {type(t).__name__}, got a Tensor")


def _classify(exc, where: str):
    """(status, detail) for an exception raised by one sample."""
    if _is_missing(exc):
        return MISSING, f"{where}: {type(exc).__name__}: {exc}"[:300]
    kind = "" if isinstance(exc, _Mismatch) else f"{type(exc).__name__}: "
    return FAIL, f"{where}: {kind}{exc}"[:300]


def _is_missing(exc) -> bool:
    if isinstance(exc, (_Missing, NotImplementedError)):
        return True
    msg = str(exc)
    return isinstance(exc, AttributeError) and ("fastnn" in msg or "'Tensor'" in msg)


# ------------------------------------------------------------------------------------ ops
# Ops whose values come from a random generator (fastnn's is not torch's) or are uninitialised
# memory: only the result's shape and dtype can be compared, as torch's own OpInfo tests do.
RANDOM_OPS = {
    "bernoulli", "multinomial", "normal", "uniform", "rand_like", "randint", "randint_like",
    "randn", "randn_like", "empty", "empty_like", "new_empty", "new_empty_strided",
    "empty_strided", "empty_permuted", "randperm", "cauchy", "exponential", "geometric",
    "log_normal", "nn.functional.dropout", "nn.functional.dropout2d", "nn.functional.dropout3d",
    "nn.functional.alpha_dropout", "nn.functional.feature_alpha_dropout", "nn.functional.rrelu",
}


def is_random(opinfo) -> bool:
    return opinfo.name in RANDOM_OPS

def _resolve(path):
    """``fastnn.<path>`` (dotted), or raise _Missing."""
    import fastnn

    obj = fastnn
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise _Missing(f"fastnn.{path}")
    return obj


def _rebind(fn, torch):
    """``fn`` (a wrapper from torch's test files) with torch, F and nn rebound to fastnn."""
    import fastnn

    g = dict(fn.__globals__)
    for name, val in list(g.items()):
        if val is torch:
            g[name] = fastnn
        elif val is torch.nn.functional:
            g[name] = fastnn.nn.functional
        elif val is torch.nn:
            g[name] = fastnn.nn
    return types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)


def fastnn_op(opinfo, torch):
    """The fastnn callable that corresponds to ``opinfo.op`` (raise _Missing if none)."""
    import fastnn

    fn = opinfo.op
    module = getattr(fn, "__module__", "") or ""
    if isinstance(fn, types.FunctionType) and module.startswith("torch.testing"):
        return _rebind(fn, torch)
    name = opinfo.name
    if name.startswith("_refs") or name.startswith("_prims"):
        raise _Missing(name)
    qual = getattr(fn, "__qualname__", "") or ""
    if qual.startswith("TensorBase.") or qual.startswith("Tensor.") or name.startswith("__"):
        attr = getattr(fastnn.Tensor, name, None)
        if attr is None:
            raise _Missing(f"Tensor.{name}")
        return attr
    try:
        return _resolve(name)
    except _Missing:
        # the method stands in only for ops torch has no function of (e.g. Tensor.new_ones)
        if opinfo.method_variant is not None and "." not in name and not hasattr(torch, name):
            attr = getattr(fastnn.Tensor, name, None)
            if attr is not None:
                return attr
        raise


def _test_dtypes(opinfo, torch):
    supported = opinfo.supported_dtypes("cpu")
    floats = [d for d in (torch.float32, torch.float64) if d in supported]
    if floats:
        return floats
    for d in (torch.int64, torch.bool, torch.int32, torch.uint8):
        if d in supported:
            return [d]
    return []


def _floating_inputs(sample, torch):
    leaves = [sample.input, *sample.args, *sample.kwargs.values()]
    out = []
    for x in leaves:
        for t in _flatten(x, torch):
            if isinstance(t, torch.Tensor) and t.requires_grad and t.is_floating_point():
                out.append(t)
    return out


def _run_sample(opinfo, fop, sample, torch, check_grad, rng):
    """Forward (and backward) of one sample on both sides; raise on the first difference."""
    import fastnn

    t_in = (sample.input, list(sample.args), dict(sample.kwargs))
    f_input = _to_fastnn(sample.input, torch)
    f_args = _to_fastnn(list(sample.args), torch)
    f_kwargs = _to_fastnn(dict(sample.kwargs), torch)
    t_out = opinfo.op(t_in[0], *t_in[1], **t_in[2])
    f_out = fop(f_input, *f_args, **f_kwargs)
    random_values = is_random(opinfo)
    _compare("output", f_out, t_out, torch, opinfo.decorators, random_values)
    if not check_grad or random_values:
        return
    t_leaves = _floating_inputs(sample, torch)
    t_outs = [o for o in _flatten(t_out, torch)
              if isinstance(o, torch.Tensor) and o.requires_grad and o.is_floating_point()]
    if not t_leaves or not t_outs:
        return
    f_all = [f_input, *f_args, *f_kwargs.values()]
    t_all = [sample.input, *sample.args, *sample.kwargs.values()]
    f_leaves = []
    for fv, tv in zip(f_all, t_all):
        for fx, tx in zip(_flatten(fv, torch), _flatten(tv, torch)):
            if isinstance(tx, torch.Tensor) and tx.requires_grad and tx.is_floating_point():
                f_leaves.append(fx)
    idx = [i for i, o in enumerate(_flatten(t_out, torch))
           if isinstance(o, torch.Tensor) and o.requires_grad and o.is_floating_point()]
    f_flat = _flatten(f_out, torch)
    f_outs = [f_flat[i] for i in idx]
    grads = [rng.standard_normal(tuple(o.shape)).astype(str(o.dtype).replace("torch.", ""))
             for o in t_outs]
    t_grads = torch.autograd.grad(t_outs, t_leaves, [torch.from_numpy(g.copy()) for g in grads],
                                  allow_unused=True)
    f_grads = _fastnn_grads(f_outs, f_leaves, grads)
    for i, (fg, tg) in enumerate(zip(f_grads, t_grads)):
        if tg is None:
            continue
        if fg is None:
            fg = fastnn.zeros(tuple(tg.shape), dtype=_fdtype(tg.dtype))
        _compare(f"grad of input {i}", fg, tg, torch, opinfo.decorators)


def _fastnn_grads(outs, leaves, grads):
    """fastnn.autograd.grad of the outputs that take part in autograd (an output that does not,
    e.g. a floor division, contributes zero gradient, as it does in torch)."""
    import fastnn

    pairs = [(o, g) for o, g in zip(outs, grads)
             if isinstance(o, fastnn.Tensor) and o.requires_grad]
    leaves_rg = [x.requires_grad if isinstance(x, fastnn.Tensor) else False for x in leaves]
    if not pairs or not any(leaves_rg):
        return [None] * len(leaves)
    # each tensor once (a sample may pass one tensor twice); the engine keys inputs by tensor
    wanted = list({id(x): x for x, rg in zip(leaves, leaves_rg) if rg}.values())
    got = fastnn.autograd.grad([o for o, _ in pairs], wanted,
                               [fastnn.tensor(g) for _, g in pairs], allow_unused=True)
    by_id = {id(x): g for x, g in zip(wanted, got)}
    return [by_id[id(x)] if rg else None for x, rg in zip(leaves, leaves_rg)]


def run_op(opinfo, *, max_samples=None, timeout=120.0) -> Result:
    """Classify one OpInfo entry (never raises)."""
    torch = _torch()
    name = opinfo.name + (f".{opinfo.variant_test_name}" if opinfo.variant_test_name else "")
    start = time.perf_counter()

    def done(status, detail=""):
        return Result("op_db", name, status, detail, time.perf_counter() - start)

    try:
        fop = fastnn_op(opinfo, torch)
    except _Missing as e:
        return done(MISSING, str(e))
    dtypes = _test_dtypes(opinfo, torch)
    if not dtypes:
        return done(MISSING, "only complex/half dtypes")
    rng = np.random.default_rng(0)
    try:
        with _deadline(timeout), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for dtype in dtypes:
                check_grad = opinfo.supports_autograd and dtype.is_floating_point
                torch.manual_seed(0)
                samples = opinfo.sample_inputs("cpu", dtype, requires_grad=check_grad)
                for i, sample in enumerate(samples):
                    if max_samples is not None and i >= max_samples:
                        break
                    try:
                        _run_sample(opinfo, fop, sample, torch, check_grad, rng)
                    except (_Timeout, KeyboardInterrupt):
                        raise
                    except Exception as e:  # noqa: BLE001 - every failure is classified
                        return done(*_classify(e, f"{str(dtype).replace('torch.', '')} sample {i}"))
    except _Timeout as e:
        return done(FAIL, str(e))
    except Exception as e:  # noqa: BLE001 - sample generation itself failed
        return done(FAIL, f"harness: {type(e).__name__}: {e}"[:300])
    return done(PASS)


# -------------------------------------------------------------------------------- modules
def _fastnn_module_cls(minfo):
    import fastnn

    qual = minfo.module_cls.__module__
    name = minfo.module_cls.__name__
    if qual.startswith("torch.nn.modules") or qual == "torch.nn":
        cls = getattr(fastnn.nn, name, None)
    elif qual.startswith("torch.ao") or "quantiz" in qual:
        raise _Missing(f"{qual}.{name}")
    else:
        cls = getattr(fastnn.nn, name, None)
    if cls is None:
        raise _Missing(f"nn.{name}")
    return cls


def _run_module_input(minfo, fcls, module_input, dtype, training, torch, rng):
    import fastnn

    c, fwd = module_input.constructor_input, module_input.forward_input
    if fwd is None:
        return
    torch.manual_seed(0)
    tm = minfo.module_cls(*c.args, **c.kwargs).to(dtype)
    fm = fcls(*_to_fastnn(list(c.args), torch), **_to_fastnn(dict(c.kwargs), torch))
    fm = fm.to(_fdtype(dtype))
    if any(isinstance(p, torch.nn.parameter.UninitializedParameter) for p in tm.parameters()):
        with torch.no_grad():  # a LazyModule: one call gives its parameters their shapes
            tm(*fwd.args, **fwd.kwargs)
    state = {k: fastnn.tensor(v.detach().numpy().copy()) for k, v in tm.state_dict().items()}
    fm.load_state_dict(state)
    tm.train(training)
    fm.train(training)
    memo = {}
    f_args = _to_fastnn(list(fwd.args), torch, memo)
    f_kwargs = _to_fastnn(dict(fwd.kwargs), torch, memo)
    t_out = tm(*fwd.args, **fwd.kwargs)
    f_out = fm(*f_args, **f_kwargs)
    mode = "train" if training else "eval"
    _compare(f"{mode} output", f_out, t_out, torch)
    t_outs = [o for o in _flatten(t_out, torch)
              if isinstance(o, torch.Tensor) and o.requires_grad and o.is_floating_point()]
    if not t_outs:
        return
    idx = [i for i, o in enumerate(_flatten(t_out, torch))
           if isinstance(o, torch.Tensor) and o.requires_grad and o.is_floating_point()]
    f_flat = _flatten(f_out, torch)
    f_outs = [f_flat[i] for i in idx]
    t_inputs, f_inputs = [], []
    for fv, tv in zip([*f_args, *f_kwargs.values()], [*fwd.args, *fwd.kwargs.values()]):
        for fx, tx in zip(_flatten(fv, torch), _flatten(tv, torch)):
            if isinstance(tx, torch.Tensor) and tx.requires_grad:
                t_inputs.append(tx)
                f_inputs.append(fx)
    t_params = [p for _, p in tm.named_parameters() if p.requires_grad]
    names = [n for n, p in tm.named_parameters() if p.requires_grad]
    f_named = dict(fm.named_parameters())
    missing = [n for n in names if n not in f_named]
    if missing:
        raise _Mismatch(f"parameters {missing} missing from fastnn's module")
    f_params = [f_named[n] for n in names]
    grads = [rng.standard_normal(tuple(o.shape)).astype(str(o.dtype).replace("torch.", ""))
             for o in t_outs]
    t_grads = torch.autograd.grad(t_outs, t_inputs + t_params,
                                  [torch.from_numpy(g.copy()) for g in grads], allow_unused=True)
    f_grads = _fastnn_grads(f_outs, f_inputs + f_params, grads)
    labels = [f"input {i}" for i in range(len(t_inputs))] + names
    for label, fg, tg in zip(labels, f_grads, t_grads):
        if tg is None:
            continue
        if fg is None:
            fg = fastnn.zeros(tuple(tg.shape), dtype=_fdtype(tg.dtype))
        _compare(f"{mode} grad of {label}", fg, tg, torch)


def run_module(minfo, *, max_inputs=None, timeout=120.0) -> Result:
    """Classify one ModuleInfo entry (never raises)."""
    torch = _torch()
    start = time.perf_counter()

    def done(status, detail=""):
        return Result("module_db", minfo.name, status, detail, time.perf_counter() - start)

    try:
        fcls = _fastnn_module_cls(minfo)
    except _Missing as e:
        return done(MISSING, str(e))
    rng = np.random.default_rng(0)
    dtypes = [d for d in (torch.float32, torch.float64) if d in minfo.supported_dtypes("cpu")]
    try:
        with _deadline(timeout), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for dtype in dtypes:
                for training in (True, False):
                    torch.manual_seed(0)
                    with _recording_constructors(torch):
                        inputs = minfo.module_inputs_func(minfo, device="cpu", dtype=dtype,
                                                          requires_grad=True, training=training)
                    for i, mi in enumerate(inputs):
                        if max_inputs is not None and i >= max_inputs:
                            break
                        try:
                            _run_module_input(minfo, fcls, mi, dtype, training, torch, rng)
                        except (_Timeout, KeyboardInterrupt):
                            raise
                        except Exception as e:  # noqa: BLE001 - every failure is classified
                            where = (f"{str(dtype).replace('torch.', '')} "
                                     f"{'train' if training else 'eval'} input {i}")
                            return done(*_classify(e, where))
    except _Timeout as e:
        return done(FAIL, str(e))
    except Exception as e:  # noqa: BLE001
        return done(FAIL, f"harness: {type(e).__name__}: {e}"[:300])
    return done(PASS)


# ------------------------------------------------------------------------------- the run
def op_name(opinfo) -> str:
    return opinfo.name + (f".{opinfo.variant_test_name}" if opinfo.variant_test_name else "")


def run(*, which=("op_db", "module_db"), select=None, max_samples=None, timeout=120.0,
        progress=None) -> list:
    """Every (or every ``select(name)``-chosen) entry of the chosen databases, as Results."""
    op_db, module_db = load_databases()
    results = []
    if "op_db" in which:
        for op in op_db:
            if select is None or select(op_name(op)):
                results.append(run_op(op, max_samples=max_samples, timeout=timeout))
                if progress:
                    progress(results[-1])
    if "module_db" in which:
        for m in module_db:
            if select is None or select(m.name):
                results.append(run_module(m, max_inputs=max_samples, timeout=timeout))
                if progress:
                    progress(results[-1])
    return results


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(results, *, elapsed=None, command=None) -> str:
    """docs/compatibility.md: totals, then one row per entry."""
    import torch

    lines = ["# fastnn compatibility with PyTorch's test databases", ""]
    lines.append(
        f"Generated by `{command or 'python -m fastnn compat --markdown docs/compatibility.md'}` "
        f"against torch {torch.__version__}: every `op_db` (OpInfo) and `module_db` (ModuleInfo) "
        "entry, forward in float32 and float64 (integer/bool dtypes for ops without floating "
        "ones) and backward where the entry supports autograd, compared with torch at "
        "torch.testing's default tolerances widened by the OpInfo's `toleranceOverride`s. "
        "Random ops and `empty*` are compared on shape and dtype only. Modules: torch's "
        "state_dict loaded into fastnn; output, input and parameter gradients in train and eval "
        "mode. `pass` = every sample passed; `fail` = the first mismatch or exception; "
        "`not implemented` = fastnn lacks the name (or raised NotImplementedError). "
        "`pytest tests/conformance` checks a fixed sample against this table; "
        "`pytest tests/conformance -m conformance` checks every entry."
    )
    if elapsed is not None:
        lines.append(f"The run took {elapsed:.0f} s.")
    lines.append("")
    lines.append("| database | pass | fail | not implemented | total |")
    lines.append("|---|---|---|---|---|")
    for db in ("op_db", "module_db"):
        rs = [r for r in results if r.db == db]
        if not rs:
            continue
        n = {s: sum(r.status == s for r in rs) for s in (PASS, FAIL, MISSING)}
        lines.append(f"| {db} | **{n[PASS]}/{len(rs)}** | {n[FAIL]} | {n[MISSING]} | {len(rs)} |")
    for db in ("op_db", "module_db"):
        rs = [r for r in results if r.db == db]
        if not rs:
            continue
        lines += ["", f"## {db}", "", "| entry | status | first mismatch / what is missing |",
                  "|---|---|---|"]
        for r in sorted(rs, key=lambda r: r.name):
            lines.append(f"| `{r.name}` | {r.status} | {_cell(r.detail)} |")
    return "\n".join(lines) + "\n"


def parse_markdown(text: str) -> dict:
    """``{(db, name): status}`` from a file written by ``markdown``."""
    out, db = {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            db = line[3:].strip()
        elif db and line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            out[(db, cells[0].strip("`"))] = cells[1]
    return out


def main(argv=None) -> int:
    """``python -m fastnn compat [--markdown FILE] [--only op_db|module_db] [-k SUBSTR]``."""
    p = argparse.ArgumentParser(
        prog="python -m fastnn compat",
        description="Run PyTorch's op_db and module_db against fastnn; print or write the table.",
    )
    p.add_argument("--markdown", metavar="FILE", help="write the table to FILE (e.g. "
                   "docs/compatibility.md) instead of printing it")
    p.add_argument("--only", choices=["op_db", "module_db"], help="one database only")
    p.add_argument("-k", dest="substr", help="only entries whose name contains SUBSTR")
    p.add_argument("--max-samples", type=int, default=None,
                   help="at most this many sample inputs per dtype (default: all)")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="CPU seconds per entry (default 120; wall time 5x that)")
    p.add_argument("-v", "--verbose", action="store_true", help="print each entry as it ends")
    args = p.parse_args(argv)
    try:
        _torch()
    except RuntimeError as e:
        print(f"python -m fastnn compat: {e}", file=sys.stderr)
        return 2
    which = (args.only,) if args.only else ("op_db", "module_db")
    select = (lambda n: args.substr in n) if args.substr else None

    def progress(r):
        if args.verbose:
            print(f"{r.db:9s} {r.status:15s} {r.seconds:6.2f}s {r.name}  {r.detail[:100]}",
                  file=sys.stderr, flush=True)

    start = time.perf_counter()
    results = run(which=which, select=select, max_samples=args.max_samples,
                  timeout=args.timeout, progress=progress)
    elapsed = time.perf_counter() - start
    text = markdown(results, elapsed=elapsed)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
        print(text.split("\n## ")[0])
        print(f"wrote {args.markdown}")
    else:
        print(text)
    return 0
