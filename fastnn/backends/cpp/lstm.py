"""C++ LSTM adapter (csrc/lstm.cpp); the extension re-checks every argument itself."""

from ._loader import load


def lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh):
    return load().lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh)


def lstm_cell_backward(grad_h, grad_c, x, h, c, c_new, gates, w_ih, w_hh):
    return load().lstm_cell_backward(grad_h, grad_c, x, h, c, c_new, gates, w_ih, w_hh)


def lstm_sequence_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    return load().lstm_sequence_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)


def lstm_sequence_backward(grad_y, grad_hn, grad_cn, x, h0, c0, w_ih, w_hh, y, cs, gates):
    return load().lstm_sequence_backward(
        grad_y, grad_hn, grad_cn, x, h0, c0, w_ih, w_hh, y, cs, gates
    )
