"""fastnn.nn.functional: PyTorch's functional API. _core.py has the framework's functions; each
kernel family adds its own file (_conv.py, _rnn.py, _attention.py)."""

from ..._families import gather

__all__ = gather(globals(), __name__, ["_core", "_conv", "_rnn", "_attention"])
