"""fastnn.nn.utils.rnn: sequence helpers (written by the LSTM family)."""
