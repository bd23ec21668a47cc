"""Recurrent modules: LSTM and LSTMCell on the fused LSTM kernels (one kernel call per layer and
direction for the whole sequence, forward and backward), GRU and GRUCell on Tensor ops.

Parameter names, shapes and init are PyTorch's (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...;
U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))), so state dicts transfer both ways.
"""

from __future__ import annotations

import math

import numpy as np

from ..._util import xp_of
from ...dtypes import as_dtype, get_default_dtype
from ...functions.lstm import LSTMCellFunction, LSTMLayerFunction
from ...tensor import Tensor, wrap
from .. import init
from .module import Module, Parameter

__all__ = ["RNNBase", "LSTM", "GRU", "RNNCellBase", "LSTMCell", "GRUCell"]


class RNNShapeError(ValueError, RuntimeError):
    """Bad input or state shape. A ValueError (fastnn's rule) that is also the RuntimeError
    PyTorch raises for size mismatches, so scripts catching either keep working."""


def _gate_size(mode, hidden_size):
    return {"LSTM": 4, "GRU": 3}[mode] * hidden_size


def _dtype(dtype):
    return get_default_dtype() if dtype is None else as_dtype(dtype)


def _shape(t):
    return tuple(t.shape)


def _check_rnn_input(input, input_size, dims, who, what):
    if not isinstance(input, Tensor):
        raise TypeError(f"input: expected a Tensor, got {type(input).__name__}")
    if input.dim() not in dims:
        raise ValueError(f"input: {who} expects a {what} input, got {input.dim()}-D with shape "
                         f"{_shape(input)}")
    if input.shape[-1] != input_size:
        raise RNNShapeError(f"input: expected input_size {input_size} in the last dimension, "
                            f"got shape {_shape(input)}")


class RNNBase(Module):
    """Shared constructor, parameters and input checks of LSTM and GRU (PyTorch's RNNBase).

    Args:
        mode: "LSTM" or "GRU".
        input_size, hidden_size: features of x and of h.
        num_layers: stacked layers (default 1).
        bias: learn b_ih and b_hh (default True).
        batch_first: input and output are (B, T, F) instead of (T, B, F).
        dropout: dropout probability on the outputs of every layer but the last (training only).
        bidirectional: add a ``_reverse`` direction per layer; outputs are concatenated.
        proj_size: not supported (must be 0).
    """

    def __init__(
        self,
        mode,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ):
        super().__init__()
        for name, v in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ):
            if (
                not isinstance(v, int)
                or isinstance(v, bool)
                or v < (1 if name != "input_size" else 0)
            ):
                raise ValueError(f"{name}: expected a positive int, got {v!r}")
        if (
            not isinstance(dropout, (int, float))
            or isinstance(dropout, bool)
            or not 0 <= dropout <= 1
        ):
            raise ValueError(f"dropout: expected a probability in [0, 1], got {dropout!r}")
        if proj_size:
            raise NotImplementedError("proj_size: LSTM projections are not supported by fastnn")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = 0
        dt = _dtype(dtype)
        gate = _gate_size(mode, hidden_size)
        D = 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(num_layers):
            for d in range(D):
                fan_in = input_size if layer == 0 else hidden_size * D
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                names = [f"weight_ih{sfx}", f"weight_hh{sfx}"]
                shapes = [(gate, fan_in), (gate, hidden_size)]
                if bias:
                    names += [f"bias_ih{sfx}", f"bias_hh{sfx}"]
                    shapes += [(gate,), (gate,)]
                for n, s in zip(names, shapes):
                    setattr(self, n, Parameter(np.empty(s, dtype=dt)))
                self._flat_weights_names.extend(names)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """No-op (cuDNN's weight packing has no counterpart here); kept for PyTorch scripts."""

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        k = 4 if self.bias else 2
        w = self._flat_weights
        return [w[i : i + k] for i in range(0, len(w), k)]

    def _layer_weights(self, layer, d):
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        b_ih = getattr(self, f"bias_ih{sfx}") if self.bias else None
        b_hh = getattr(self, f"bias_hh{sfx}") if self.bias else None
        return getattr(self, f"weight_ih{sfx}"), getattr(self, f"weight_hh{sfx}"), b_ih, b_hh

    def _check_input(self, input):
        _check_rnn_input(input, self.input_size, (2, 3), self.mode, "2-D (unbatched) or 3-D "
                         "(batched)")

    def _state(self, hx, name, B, unbatched, input):
        """The (L*D, B, H) initial state: ``hx`` checked (and given a batch dim if unbatched), or
        zeros as a raw array when None."""
        want = (self.num_layers * (2 if self.bidirectional else 1), B, self.hidden_size)
        if hx is None:
            return xp_of(input.array).zeros(want, dtype=input.array.dtype)
        if not isinstance(hx, Tensor):
            raise TypeError(f"{name}: expected a Tensor, got {type(hx).__name__}")
        got = _shape(hx)
        if unbatched:
            if hx.dim() != 2:
                raise RNNShapeError(
                    f"{name}: for unbatched input expected a 2-D state of shape "
                    f"{(want[0], want[2])}, got {got}"
                )
            hx = hx.unsqueeze(1)
        if _shape(hx) != want:
            raise RNNShapeError(
                f"{name}: expected shape {want if not unbatched else (want[0], want[2])}, got {got}"
            )
        return hx

    def _prepare(self, input):
        self._check_input(input)
        unbatched = input.dim() == 2
        if unbatched:
            input = input.unsqueeze(0 if self.batch_first else 1)
        B = input.shape[0 if self.batch_first else 1]
        return input, unbatched, B

    def _dropout_between(self, x, layer):
        if self.dropout and self.training and layer < self.num_layers - 1:
            from ..functional._core import dropout

            x = dropout(x, self.dropout, True)
        return x

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


def _stack(states):
    from ...functions.shape import stack

    return stack(states, 0)


def _cat_directions(outs):
    if len(outs) == 1:
        return outs[0]
    from ...functions.shape import cat

    return cat(outs, -1)


class LSTM(RNNBase):
    """Multi-layer LSTM over a sequence (PyTorch's nn.LSTM; gate order i, f, g, o).

    Each layer and direction is one fused kernel call over the whole sequence (input projection
    hoisted into one GEMM, recurrence step by step) and one call for backward through time.

    Shape:
        input: (T, B, input_size), or (B, T, input_size) with ``batch_first``; (T, input_size)
            unbatched. hx: optional (h_0, c_0), each (num_layers * D, B, hidden_size).
        Returns: output (T, B, D * hidden_size) (batch-first likewise) and (h_n, c_n), each
            (num_layers * D, B, hidden_size). D = 2 when bidirectional, else 1.
    """

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def forward(self, input, hx=None):
        input, unbatched, B = self._prepare(input)
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError("hx: expected a tuple (h_0, c_0) of Tensors")
        h0 = self._state(None if hx is None else hx[0], "hx[0] (h_0)", B, unbatched, input)
        c0 = self._state(None if hx is None else hx[1], "hx[1] (c_0)", B, unbatched, input)
        D = 2 if self.bidirectional else 1
        x, hs, cs = input, [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                i = layer * D + d
                y, h, c = LSTMLayerFunction.apply(
                    x, h0[i], c0[i], *self._layer_weights(layer, d), bool(d), self.batch_first
                )
                outs.append(y)
                hs.append(h)
                cs.append(c)
            x = self._dropout_between(_cat_directions(outs), layer)
        h_n, c_n = _stack(hs), _stack(cs)
        if unbatched:
            x = x.squeeze(0 if self.batch_first else 1)
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return x, (h_n, c_n)


def _gru_step(gi, h, w_hh, b_hh):
    """One GRU step from the precomputed input projection gi (B, 3H): PyTorch's equations."""
    from ..functional._core import linear

    gh = linear(h, w_hh, b_hh)
    i_r, i_z, i_n = gi.chunk(3, -1)
    h_r, h_z, h_n = gh.chunk(3, -1)
    r = (i_r + h_r).sigmoid()
    z = (i_z + h_z).sigmoid()
    n = (i_n + r * h_n).tanh()
    return n + z * (h - n)  # (1 - z) * n + z * h


class GRU(RNNBase):
    """Multi-layer GRU (PyTorch's nn.GRU; gate order r, z, n), built from Tensor ops: the input
    projection of all steps is one linear per layer and direction, the recurrence a loop.

    Shape: as :class:`LSTM`, with a single state h_0 / h_n instead of (h, c).
    """

    def __init__(self, *args, **kwargs):
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input, hx=None):
        from ..functional._core import linear

        input, unbatched, B = self._prepare(input)
        h0 = self._state(hx, "hx (h_0)", B, unbatched, input)
        if not isinstance(h0, Tensor):
            h0 = wrap(h0)
        D = 2 if self.bidirectional else 1
        x = input.transpose(0, 1) if self.batch_first else input  # time-major from here on
        hs = []
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                w_ih, w_hh, b_ih, b_hh = self._layer_weights(layer, d)
                gi = linear(x, w_ih, b_ih)
                h = h0[layer * D + d]
                steps = [None] * x.shape[0]
                order = range(x.shape[0] - 1, -1, -1) if d else range(x.shape[0])
                for t in order:
                    h = steps[t] = _gru_step(gi[t], h, w_hh, b_hh)
                outs.append(_stack(steps) if steps else gi[..., : self.hidden_size] * 0)
                hs.append(h)
            x = self._dropout_between(_cat_directions(outs), layer)
        if self.batch_first:
            x = x.transpose(0, 1)
        h_n = _stack(hs)
        if unbatched:
            x = x.squeeze(0 if self.batch_first else 1)
            h_n = h_n.squeeze(1)
        return x, h_n


class RNNCellBase(Module):
    """weight_ih (G*H, input_size), weight_hh (G*H, H), bias_ih, bias_hh (G*H,), PyTorch's init."""

    def __init__(
        self, mode, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ):
        super().__init__()
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if (
                not isinstance(v, int)
                or isinstance(v, bool)
                or v < (0 if name == "input_size" else 1)
            ):
                raise ValueError(f"{name}: expected a positive int, got {v!r}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self._mode = mode
        dt = _dtype(dtype)
        gate = _gate_size(mode, hidden_size)
        self.weight_ih = Parameter(np.empty((gate, input_size), dtype=dt))
        self.weight_hh = Parameter(np.empty((gate, hidden_size), dtype=dt))
        if bias:
            self.bias_ih = Parameter(np.empty((gate,), dtype=dt))
            self.bias_hh = Parameter(np.empty((gate,), dtype=dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def _prepare(self, input, states, names):
        """Checks input (B, I) or (I,) and the states (B, H) / (H,); None states become zeros."""
        _check_rnn_input(input, self.input_size, (1, 2), type(self).__name__, "1-D or 2-D")
        unbatched = input.dim() == 1
        if unbatched:
            input = input.unsqueeze(0)
        want = (input.shape[0], self.hidden_size)
        out = []
        for s, name in zip(states, names):
            if s is None:
                out.append(xp_of(input.array).zeros(want, dtype=input.array.dtype))
                continue
            if not isinstance(s, Tensor):
                raise TypeError(f"{name}: expected a Tensor, got {type(s).__name__}")
            if unbatched and s.dim() == 1:
                s = s.unsqueeze(0)
            if _shape(s) != want:
                shown = want[1:] if unbatched else want
                raise RNNShapeError(f"{name}: expected shape {shown}, got {_shape(s)}")
            out.append(s)
        return input, unbatched, out

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s


class LSTMCell(RNNCellBase):
    """One LSTM step (PyTorch's nn.LSTMCell) as one fused kernel call forward and one backward.

    Shape: input (B, input_size) or (input_size,); hx optional (h, c), each (B, hidden_size).
    Returns (h', c'), each (B, hidden_size).
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ):
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError("hx: expected a tuple (h, c) of Tensors")
        states = (None, None) if hx is None else hx
        input, unbatched, (h, c) = self._prepare(input, states, ("hx[0] (h)", "hx[1] (c)"))
        h_new, c_new = LSTMCellFunction.apply(
            input, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh
        )
        if unbatched:
            return h_new.squeeze(0), c_new.squeeze(0)
        return h_new, c_new


class GRUCell(RNNCellBase):
    """One GRU step (PyTorch's nn.GRUCell) on Tensor ops. Returns h' (B, hidden_size)."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None
    ):
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        from ..functional._core import linear

        input, unbatched, (h,) = self._prepare(input, (hx,), ("hx",))
        if not isinstance(h, Tensor):
            h = wrap(h)
        h_new = _gru_step(
            linear(input, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh
        )
        return h_new.squeeze(0) if unbatched else h_new
