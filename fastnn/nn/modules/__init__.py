"""nn modules, one file per kind (PyTorch's layout)."""

from ..._families import gather

__all__ = gather(
    globals(),
    __name__,
    [
        "module", "container", "linear", "activation", "dropout", "sparse", "normalization",
        "flatten", "loss",  # framework
        "conv", "pooling", "batchnorm",  # convolution family
        "rnn",  # LSTM family
        "attention", "transformer",  # attention family
    ],
)
