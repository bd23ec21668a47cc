"""The backward pass: walk the recorded graph once in reverse topological order.

Gradients for each node's outputs are summed in a buffer until every consumer has run (a
dependency count per node, Kahn's algorithm), then the node's backward runs once. Leaves
accumulate into ``.grad``; ``retain_grad()`` non-leaves get theirs when their node runs.
"""

from __future__ import annotations

import builtins

import numpy as np

from .._util import xp_of
from ..tensor import Tensor, _make
from . import views as _views
from .function import _FREED_MSG
from .grad_mode import state as _grad_state

_written = _views._WRITTEN


def _check_grad(g, like_shape, like_dtype, what):
    if g.shape != like_shape:
        raise RuntimeError(
            f"{what}: backward returned a gradient of shape {tuple(g.shape)} for an input of "
            f"shape {tuple(like_shape)}"
        )
    if g.dtype != like_dtype:
        g = g.astype(like_dtype)
    return g


def _accumulate_leaf(leaf, g):
    if leaf._hooks:
        for hook in leaf._hooks:
            r = hook(_make(g, False, None, 0))
            if r is not None:
                g = r.array if isinstance(r, Tensor) else r
    arr = leaf.array
    g = _check_grad(g, arr.shape, arr.dtype, "leaf tensor")
    if leaf.grad is None:
        # Own the storage: the same array may have been handed to several inputs (a + b) or be a
        # read-only broadcast view, and optimizers update .grad in place.
        leaf.grad = _make(g.copy(), False, None, 0)
    else:  # accumulate in place, as PyTorch does (holders of .grad's array see it)
        ga = leaf.grad.array
        if type(ga) is np.ndarray and ga.flags.writeable and ga.dtype == g.dtype:
            np.add(ga, g, out=ga)
        else:
            leaf.grad.array = ga + g


def run_backward(roots, grads, retain_graph, capture=None):
    """Backpropagate ``grads`` (arrays) from the ``roots`` (Tensors).

    With ``capture`` (a list of Tensors) nothing is accumulated into ``.grad``; the gradients of
    those Tensors are returned instead (None where a Tensor is not reached).
    """
    buffers = {}  # node -> [grad or None per output]
    ready = []
    captured = None
    cap_leaf = cap_node = None
    if capture is not None:
        captured = [None] * len(capture)
        cap_leaf = {id(t): i for i, t in enumerate(capture) if t.grad_fn is None}
        cap_node = {}
        for i, t in enumerate(capture):
            if t.grad_fn is not None:
                cap_node.setdefault(t.grad_fn, []).append((t._out_idx, i))

    def send(edge, g):
        if type(edge) is tuple:
            node, idx = edge
            buf = buffers.get(node)
            if buf is None:
                buf = buffers[node] = [None] * (len(node._out_meta) if node._out_meta else 1)
            buf[idx] = g if buf[idx] is None else buf[idx] + g
        elif capture is None:
            _accumulate_leaf(edge, g)
        else:
            i = cap_leaf.get(id(edge))
            if i is not None:
                captured[i] = g if captured[i] is None else captured[i] + g

    # Dependency counts over the reachable graph; also the edges into leaves that have
    # post-accumulate hooks, so each such hook runs once, after the leaf's last contribution.
    deps = {}
    stack = []
    post = {}  # id(leaf) -> [leaf, edges still to come, received a gradient]
    for t in roots:
        if t.grad_fn is not None and t.grad_fn not in deps:
            deps[t.grad_fn] = 0
            stack.append(t.grad_fn)
        elif t.grad_fn is None and t._post_acc_hooks and capture is None:
            post.setdefault(id(t), [t, 0, False])[1] += 1
    while stack:
        node = stack.pop()
        for e in node._next:
            if type(e) is tuple:
                n = e[0]
                if n in deps:
                    deps[n] += 1
                else:
                    deps[n] = 1
                    stack.append(n)
            elif e is not None and e._post_acc_hooks and capture is None:
                post.setdefault(id(e), [e, 0, False])[1] += 1

    for t, g in zip(roots, grads):
        if not t._rg:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn"
            )
        send(t if t.grad_fn is None else (t.grad_fn, t._out_idx), g)
        if post and t.grad_fn is None:
            _leaf_edge_done(post, t, True)
    for node, n in deps.items():
        if n == 0:
            ready.append(node)
    needed = None if capture is None else _needed(deps, cap_leaf, cap_node)

    prev_mode = _grad_state.enabled
    _grad_state.enabled = False  # backward formulas work on arrays; never record them
    try:
        while ready:
            node = ready.pop()
            if node._freed:
                raise RuntimeError(_FREED_MSG)
            outs = buffers.pop(node)
            meta = node._out_meta
            for i, g in enumerate(outs):
                if g is None:
                    shape, dtype = meta[i]
                    ref = next(o for o in outs if o is not None)
                    outs[i] = xp_of(ref).zeros(shape, dtype)
            if node._hooks:
                for i, hooks in node._hooks.items():
                    for hook in hooks:
                        r = hook(_make(outs[i], False, None, 0))
                        if r is not None:
                            outs[i] = r.array if isinstance(r, Tensor) else r
            if node._retained:
                for i, ref in node._retained.items():
                    t = ref()
                    if t is not None and t.grad_fn is node:
                        g = outs[i]
                        t.grad = (
                            _make(g.copy(), False, None, 0)
                            if t.grad is None
                            else _make(t.grad.array + g, False, None, 0)
                        )
            if cap_node and node in cap_node:
                for idx, i in cap_node[node]:
                    captured[i] = outs[idx]
            if needed is not None and node not in needed:
                continue  # autograd.grad: nothing below this node is asked for; leave it intact
            if _written and node._saved:
                _views.check_saved(node)
            fn = node._fn
            in_grads = fn.backward(node, *outs)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            nxt = node._next
            if len(in_grads) != len(nxt):
                # trailing non-tensor arguments may be left out; a missing needed gradient may not
                if len(in_grads) > len(nxt) or builtins.any(
                    e is not None for e in nxt[len(in_grads) :]
                ):
                    raise RuntimeError(
                        f"function {fn.__name__}Backward returned an incorrect number of gradients "
                        f"(expected {len(nxt)}, got {len(in_grads)})"
                    )
            if not retain_graph:
                node._release()
            for e, g in zip(nxt, in_grads):
                if e is None:
                    continue
                if g is not None:
                    if type(g) is not np.ndarray and not hasattr(g, "__cuda_array_interface__"):
                        g = np.asarray(g)
                    send(e, g)
                if post and type(e) is not tuple and id(e) in post:
                    _leaf_edge_done(post, e, g is not None)
                if type(e) is tuple:
                    n = e[0]
                    deps[n] -= 1
                    if deps[n] == 0:
                        if n in buffers:
                            ready.append(n)
                        else:  # received no gradient at all: resolve its inputs' counts
                            _skip(n, deps, buffers, ready)
        for leaf, _, received in list(post.values()):  # edges below skipped nodes never came
            if received:
                _run_post_hooks(leaf)
    finally:
        _grad_state.enabled = prev_mode
    return captured


def _leaf_edge_done(post, leaf, received):
    entry = post[id(leaf)]
    entry[1] -= 1
    entry[2] = entry[2] or received
    if entry[1] == 0:
        del post[id(leaf)]
        if entry[2]:
            _run_post_hooks(leaf)


def _run_post_hooks(leaf):
    for hook in list(leaf._post_acc_hooks):
        hook(leaf)


def _needed(deps, cap_leaf, cap_node):
    """The nodes whose backward leads to a captured tensor (children first, then parents)."""
    count = dict(deps)
    order = [n for n, c in count.items() if c == 0]
    i = 0
    while i < len(order):  # Kahn order over the reachable graph: consumers before producers
        for e in order[i]._next:
            if type(e) is tuple:
                count[e[0]] -= 1
                if count[e[0]] == 0:
                    order.append(e[0])
        i += 1
    needed = set()
    for n in reversed(order):
        for e in n._next:
            if e is None:
                continue
            if type(e) is tuple:
                if e[0] in needed or e[0] in cap_node:
                    needed.add(n)
                    break
            elif id(e) in cap_leaf:
                needed.add(n)
                break
    return needed


def _skip(node, deps, buffers, ready):
    """A node that received no gradient at all: resolve its consumers' counts without running it."""
    stack = [node]
    while stack:
        n = stack.pop()
        for e in n._next:
            if type(e) is tuple:
                m = e[0]
                deps[m] -= 1
                if deps[m] == 0:
                    if m in buffers:
                        ready.append(m)
                    else:
                        stack.append(m)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """``torch.autograd.backward``: accumulate d(tensors)/d(leaf) into every leaf's .grad."""
    if create_graph:
        raise NotImplementedError(
            "create_graph=True (double backward) is not supported by fastnn: backward formulas run "
            "on raw arrays and are not themselves recorded"
        )
    if inputs is not None:
        raise NotImplementedError("backward(inputs=...) is not supported; use fastnn.autograd.grad")
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    grads = _make_grads(tensors, grad_tensors)
    run_backward(tensors, grads, bool(retain_graph))


def _make_grads(outputs, grad_outputs):
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(
            f"grad_tensors: got {len(grad_outputs)} gradients for {len(outputs)} outputs"
        )
    grads = []
    for t, g in zip(outputs, grad_outputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"outputs: expected Tensors, got {type(t).__name__}")
        if g is None:
            if t.array.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if t.array.dtype.kind not in "fc":
                raise RuntimeError("grad can be implicitly created only for real scalar outputs")
            grads.append(xp_of(t.array).ones(t.array.shape, t.array.dtype))
        else:
            ga = g.array if isinstance(g, Tensor) else np.asarray(g)
            if ga.shape != t.array.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output has a shape of {tuple(ga.shape)} and output "
                    f"has a shape of {tuple(t.array.shape)}"
                )
            grads.append(ga.astype(t.array.dtype, copy=False))
    return grads


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    allow_unused=None,
    materialize_grads=False,
):
    """``torch.autograd.grad``: the gradients of ``outputs`` with respect to ``inputs``, returned
    (a tuple of Tensors) instead of accumulated into ``.grad``."""
    if create_graph:
        raise NotImplementedError(
            "create_graph=True (double backward) is not supported by fastnn: backward formulas run "
            "on raw arrays and are not themselves recorded"
        )
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"inputs: element {i} is a {type(t).__name__}, expected a Tensor")
        if not t._rg:
            raise RuntimeError(
                f"One of the differentiated Tensors (input {i}) does not require grad"
            )
    grads = _make_grads(outputs, grad_outputs)
    # a tensor listed twice gets its whole gradient at each place (torch's rule); the engine
    # captures each tensor once
    first = {}
    for t in inputs:
        first.setdefault(id(t), len(first))
    uniq = list({id(t): t for t in inputs}.values())
    got = run_backward(outputs, grads, bool(retain_graph), capture=uniq)
    res = [got[first[id(t)]] for t in inputs]
    out = []
    for i, (t, g) in enumerate(zip(inputs, res)):
        if g is None:
            if materialize_grads:
                g = xp_of(t.array).zeros_like(t.array)
            elif not allow_unused:
                raise RuntimeError(
                    f"One of the differentiated Tensors (input {i}) appears to not have been used "
                    "in the graph. Set allow_unused=True if this is the desired behavior."
                )
            else:
                out.append(None)
                continue
        out.append(
            _make(g.astype(t.array.dtype, copy=False).reshape(t.array.shape), False, None, 0)
        )
    return tuple(out)
