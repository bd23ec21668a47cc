"""``python -m fastnn bench``: the benchmark report.

Layout (one concept per file):

* ``specs/``    one module per kernel family: the cases (shapes per ``--sizes``), FLOP counts,
                inputs, how each fastnn backend and each reference library runs a case, tolerances.
* ``timing.py`` validate-then-time: first call (JIT compile) timed apart, validation against the
                float64 reference, then interleaved repeats (A B A B ...) with median and min-max.
* ``roof.py``   the machine's float32 FMA peak and copy bandwidth from the C++ extension.
* ``train.py``  the training-step race: four models written once against a ``torch``-like module.
* ``machine.py`` what the JSON and markdown say about the machine (CPU flags, BLAS, versions).
* ``report.py`` the stdout table, ``--markdown``, ``--json``; ``plot.py`` the ``--plot`` PNG.
* ``cli.py``    ``main(argv)``, dispatched from ``python -m fastnn bench``.

PyTorch and CuPy are optional references, imported lazily (``specs.base.optional``); the fastnn
library itself never imports them.
"""
