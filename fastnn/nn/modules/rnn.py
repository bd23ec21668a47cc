"""Recurrent modules: LSTM and LSTMCell on the fused LSTM kernels (one kernel call per layer and
direction for the whole sequence, forward and backward); RNN, GRU, their cells, LSTM with
``proj_size`` and every module on a ``PackedSequence`` composed from Tensor ops (the input
projection of all steps is one linear per layer and direction, the recurrence a loop).

Parameter names, shapes and init are PyTorch's (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...;
U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))), so state dicts transfer both ways.
"""

from __future__ import annotations

import math

import numpy as np

from ..._util import xp_of
from ...dtypes import as_dtype, get_default_dtype
from ...functions.lstm import (
    GRUGatesFunction,
    LSTMCellFunction,
    LSTMGatesFunction,
    LSTMLayerFunction,
)
from ...tensor import Tensor, wrap
from .. import init
from .module import Module, Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


class RNNShapeError(ValueError, RuntimeError):
    """Bad input or state shape. A ValueError (fastnn's rule) that is also the RuntimeError
    PyTorch raises for size mismatches, so scripts catching either keep working."""


def _gate_size(mode, hidden_size):
    return {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}[mode] * hidden_size


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
    """Shared constructor, parameters and input checks of RNN, LSTM and GRU (PyTorch's RNNBase).

    Args:
        mode: "LSTM", "GRU", "RNN_TANH" or "RNN_RELU".
        input_size, hidden_size: features of x and of h.
        num_layers: stacked layers (default 1).
        bias: learn b_ih and b_hh (default True).
        batch_first: input and output are (B, T, F) instead of (T, B, F).
        dropout: dropout probability on the outputs of every layer but the last (training only).
        bidirectional: add a ``_reverse`` direction per layer; outputs are concatenated.
        proj_size: LSTM only: h is projected to this size by ``weight_hr_l{k}`` (0 = off).
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
        if mode not in ("LSTM", "GRU", "RNN_TANH", "RNN_RELU"):
            raise ValueError(f"mode: unrecognized RNN mode {mode!r}")
        if not isinstance(proj_size, int) or isinstance(proj_size, bool) or proj_size < 0:
            raise ValueError(
                f"proj_size: expected a positive int or 0 to disable projections, got "
                f"{proj_size!r}"
            )
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size: only supported for LSTM, not RNN or GRU")
        if proj_size >= hidden_size:
            raise ValueError(
                f"proj_size: has to be smaller than hidden_size ({hidden_size}), got {proj_size}"
            )
        if dropout > 0 and num_layers == 1:
            import warnings

            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                stacklevel=3,
            )
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        dt = _dtype(dtype)
        gate = _gate_size(mode, hidden_size)
        D = 2 if bidirectional else 1
        out_size = proj_size or hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            for d in range(D):
                fan_in = input_size if layer == 0 else out_size * D
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                names = [f"weight_ih{sfx}", f"weight_hh{sfx}"]
                shapes = [(gate, fan_in), (gate, out_size)]
                if bias:
                    names += [f"bias_ih{sfx}", f"bias_hh{sfx}"]
                    shapes += [(gate,), (gate,)]
                if proj_size:
                    names.append(f"weight_hr{sfx}")
                    shapes.append((proj_size, hidden_size))
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
        k = (4 if self.bias else 2) + (1 if self.proj_size else 0)
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

    def _state(self, hx, name, B, unbatched, input, size=None):
        """The (L*D, B, size) initial state (size: hidden_size by default): ``hx`` checked (and
        given a batch dim if unbatched), or zeros as a raw array when None."""
        want = (self.num_layers * (2 if self.bidirectional else 1), B, size or self.hidden_size)
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


def _linear(x, w, b):
    from ..functional._core import linear

    return linear(x, w, b)


def _rnn_tanh_step(gi, state, w_hh, b_hh, w_hr):
    return ((gi + _linear(state[0], w_hh, b_hh)).tanh(),)


def _rnn_relu_step(gi, state, w_hh, b_hh, w_hr):
    return ((gi + _linear(state[0], w_hh, b_hh)).relu(),)


def _gru_step(gi, h, w_hh, b_hh):
    """One GRU step from the precomputed input projection gi (B, 3H): PyTorch's equations, the
    gates in one Function that rounds as ATen's GRUCell does."""
    return GRUGatesFunction.apply(gi, _linear(h, w_hh, b_hh), h)


def _gru_state_step(gi, state, w_hh, b_hh, w_hr):
    return (_gru_step(gi, state[0], w_hh, b_hh),)


def _lstm_step(gi, state, w_hh, b_hh, w_hr):
    """One LSTM step (gate order i, f, g, o); h is projected by w_hr when given."""
    h, c = state
    h, c = LSTMGatesFunction.apply(_linear(h, w_hh, b_hh) + gi, c)
    if w_hr is not None:
        h = _linear(h, w_hr, None)
    return h, c


_STEPS = {
    "RNN_TANH": _rnn_tanh_step,
    "RNN_RELU": _rnn_relu_step,
    "GRU": _gru_state_step,
    "LSTM": _lstm_step,
}


def _recur(step, gi_steps, sizes, state, w_hh, b_hh, w_hr, reverse):
    """Runs ``step`` over the time steps (backwards when ``reverse``). Step t updates the first
    ``sizes[t]`` rows of the state (a packed batch is sorted by decreasing length, so a shorter
    sequence simply stops being updated, and in reverse starts from its own last step).
    Returns (outputs in time order, final state)."""
    outs = [None] * len(gi_steps)
    order = range(len(gi_steps) - 1, -1, -1) if reverse else range(len(gi_steps))
    for t in order:
        b = sizes[t]
        if b == state[0].shape[0]:
            state = step(gi_steps[t], state, w_hh, b_hh, w_hr)
            outs[t] = state[0]
        else:
            new = step(gi_steps[t], tuple(s[:b] for s in state), w_hh, b_hh, w_hr)
            state = tuple(_cat([n, s[b:]], 0) for n, s in zip(new, state))
            outs[t] = new[0]
    return outs, state


def _cat(ts, dim):
    from ...functions.shape import cat

    return cat(ts, dim)


class _Recurrent(RNNBase):
    """forward() of RNN, GRU and LSTM: dense (batched, unbatched, batch_first) or
    ``PackedSequence`` input, checked states, composed recurrence (LSTM overrides the dense
    no-projection case with its fused kernel)."""

    _n_states = 1

    def _state_sizes(self):
        return (self.hidden_size,)

    def forward(self, input, hx=None):
        from ..utils.rnn import PackedSequence

        packed = isinstance(input, PackedSequence)
        if packed:
            x, batch_sizes, sorted_indices, unsorted_indices = input
            _check_rnn_input(x, self.input_size, (2,), self.mode, "2-D PackedSequence.data")
            sizes = [int(b) for b in np.asarray(batch_sizes.numpy()).ravel()]
            B, unbatched = (sizes[0] if sizes else 0), False
        else:
            x, unbatched, B = self._prepare(input)
            sizes = None
        states = self._initial_states(hx, B, unbatched, x)
        if packed and hx is not None and sorted_indices is not None:
            states = [s.index_select(1, sorted_indices) for s in states]
        if not packed and self._fused():
            out, finals = self._forward_fused(x, states)
        else:
            if not packed and self.batch_first:
                x = x.transpose(0, 1)  # time-major from here on
            out, finals = self._forward_composed(x, states, sizes)
            if not packed and self.batch_first:
                out = out.transpose(0, 1)
        if packed:
            out = PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices)
            if unsorted_indices is not None:
                finals = [f.index_select(1, unsorted_indices) for f in finals]
        elif unbatched:
            out = out.squeeze(0 if self.batch_first else 1)
            finals = [f.squeeze(1) for f in finals]
        return out, (tuple(finals) if self._n_states == 2 else finals[0])

    def _initial_states(self, hx, B, unbatched, x):
        if self._n_states == 1:
            return [self._state(hx, "hx (h_0)", B, unbatched, x)]
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError("hx: expected a tuple (h_0, c_0) of Tensors")
        h_size, c_size = self._state_sizes()
        return [
            self._state(None if hx is None else hx[0], "hx[0] (h_0)", B, unbatched, x, h_size),
            self._state(None if hx is None else hx[1], "hx[1] (c_0)", B, unbatched, x, c_size),
        ]

    def _fused(self):
        return False

    def _forward_composed(self, x, states, sizes):
        """x: time-major (T, B, F), or packed data (N, F) with the per-step batch ``sizes``."""
        states = [s if isinstance(s, Tensor) else wrap(s) for s in states]
        step = _STEPS[self.mode]
        D = 2 if self.bidirectional else 1
        finals = [[] for _ in states]
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                w_ih, w_hh, b_ih, b_hh = self._layer_weights(layer, d)
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                w_hr = getattr(self, f"weight_hr{sfx}") if self.proj_size else None
                gi = _linear(x, w_ih, b_ih)
                if sizes is None:
                    gi_steps = [gi[t] for t in range(gi.shape[0])]
                    step_sizes = [x.shape[1]] * len(gi_steps)
                else:
                    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
                    gi_steps = [gi[starts[t] : starts[t + 1]] for t in range(len(sizes))]
                    step_sizes = sizes
                state = tuple(s[layer * D + d] for s in states)
                steps, state = _recur(step, gi_steps, step_sizes, state, w_hh, b_hh, w_hr, d)
                if not steps:  # empty sequence: an empty output of the right width
                    out = gi[..., : (self.proj_size or self.hidden_size)] * 0
                else:
                    out = _stack(steps) if sizes is None else _cat(steps, 0)
                outs.append(out)
                for k, s in enumerate(state):
                    finals[k].append(s)
            x = self._dropout_between(_cat_directions(outs), layer)
        return x, [_stack(f) for f in finals]


class RNN(_Recurrent):
    """Multi-layer Elman RNN (PyTorch's nn.RNN): h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T +
    b_hh), act tanh or relu.

    Args: input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
        batch_first=False, dropout=0.0, bidirectional=False (also as keywords).

    Shape: as :class:`LSTM`, with a single state h_0 / h_n; input may be a PackedSequence.
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size: only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"nonlinearity: unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                "or 'relu'."
            )
        super().__init__("RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU", *args,
                         **kwargs)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + ", nonlinearity='relu'"


class LSTM(_Recurrent):
    """Multi-layer LSTM over a sequence (PyTorch's nn.LSTM; gate order i, f, g, o).

    Without ``proj_size`` and on a dense input each layer and direction is one fused kernel call
    over the whole sequence (input projection hoisted into one GEMM, recurrence step by step)
    and one call for backward through time; with ``proj_size`` (h_t = W_hr (o_t * tanh(c_t)))
    or a PackedSequence input the recurrence is composed from Tensor ops.

    Shape:
        input: (T, B, input_size), or (B, T, input_size) with ``batch_first``; (T, input_size)
            unbatched; or a PackedSequence. hx: optional (h_0, c_0), h_0 (num_layers * D, B,
            proj_size or hidden_size), c_0 (num_layers * D, B, hidden_size).
        Returns: output (T, B, D * (proj_size or hidden_size)) (batch-first likewise) and
            (h_n, c_n) shaped as (h_0, c_0). D = 2 when bidirectional, else 1.
    """

    _n_states = 2

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def _state_sizes(self):
        return (self.proj_size or self.hidden_size, self.hidden_size)

    def _fused(self):
        return not self.proj_size

    def _forward_fused(self, x, states):
        h0, c0 = states
        D = 2 if self.bidirectional else 1
        hs, cs = [], []
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
        return x, [_stack(hs), _stack(cs)]

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (f", proj_size={self.proj_size}" if self.proj_size else "")


class GRU(_Recurrent):
    """Multi-layer GRU (PyTorch's nn.GRU; gate order r, z, n), built from Tensor ops.

    Shape: as :class:`LSTM`, with a single state h_0 / h_n instead of (h, c).
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size: only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)



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


class RNNCell(RNNCellBase):
    """One Elman RNN step (PyTorch's nn.RNNCell): h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh),
    act ``nonlinearity`` "tanh" (default) or "relu". Returns h' (B, hidden_size) or (hidden_size,).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device=None,
        dtype=None,
    ):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"nonlinearity: unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                "'relu'."
            )
        super().__init__("RNN_TANH", input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        input, unbatched, (h,) = self._prepare(input, (hx,), ("hx",))
        if not isinstance(h, Tensor):
            h = wrap(h)
        step = _rnn_tanh_step if self.nonlinearity == "tanh" else _rnn_relu_step
        (h_new,) = step(
            _linear(input, self.weight_ih, self.bias_ih), (h,), self.weight_hh, self.bias_hh, None
        )
        return h_new.squeeze(0) if unbatched else h_new

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + ", nonlinearity='relu'"
