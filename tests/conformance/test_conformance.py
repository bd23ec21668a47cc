"""PyTorch's op_db and module_db against fastnn (fastnn/compat.py), checked against the committed
table docs/compatibility.md: an entry the table records as ``pass`` must still pass.

* ``test_sample``: a fixed deterministic sample (every 10th op_db and every 5th module_db entry
  by name), run by default (about a minute);
* ``test_entry`` under ``-m conformance``: every entry (about 8 minutes on 2 cores);
* harness tests: the runner passes a correct op, fails a broken one, and reports a missing one.

Regenerate the table with ``python -m fastnn compat --markdown docs/compatibility.md``.
"""

from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn import compat

TABLE = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"
RECORDED = compat.parse_markdown(TABLE.read_text()) if TABLE.exists() else {}
ENTRIES = sorted(RECORDED)
SAMPLE = ([k for i, k in enumerate(e for e in ENTRIES if e[0] == "op_db") if i % 10 == 0]
          + [k for i, k in enumerate(e for e in ENTRIES if e[0] == "module_db") if i % 5 == 0])


def _check(databases, db, name):
    entry = databases[db].get(name)
    if entry is None:
        pytest.fail(f"{db} entry {name} is in docs/compatibility.md but not in torch's {db}")
    run = compat.run_op if db == "op_db" else compat.run_module
    result = run(entry, timeout=120)
    if RECORDED[(db, name)] == compat.PASS:
        assert result.status == compat.PASS, f"{name} regressed: {result.detail}"
    return result


@pytest.mark.parametrize("key", SAMPLE, ids=[f"{db}:{n}" for db, n in SAMPLE])
def test_sample(databases, key):
    _check(databases, *key)


@pytest.mark.conformance
@pytest.mark.parametrize("key", ENTRIES, ids=[f"{db}:{n}" for db, n in ENTRIES])
def test_entry(databases, key):
    _check(databases, *key)


def test_table_covers_both_databases(databases):
    assert set(databases["op_db"]) == {n for db, n in RECORDED if db == "op_db"}
    assert set(databases["module_db"]) == {n for db, n in RECORDED if db == "module_db"}


def test_runner_passes_a_correct_op_and_fails_a_broken_one(databases, monkeypatch):
    assert compat.run_op(databases["op_db"]["exp"]).status == compat.PASS
    real = fastnn.exp
    monkeypatch.setattr(fastnn, "exp", lambda x, *a, **k: real(x) * 1.001)
    r = compat.run_op(databases["op_db"]["exp"])
    assert r.status == compat.FAIL and "values differ" in r.detail
    # a wrong gradient with a right forward is caught by the backward comparison
    monkeypatch.setattr(fastnn, "exp", lambda x, *a, **k: real(x.detach()) + 0 * x)
    r = compat.run_op(databases["op_db"]["exp"])
    assert r.status == compat.FAIL and "grad of input 0" in r.detail
    monkeypatch.delattr(fastnn, "exp")
    assert compat.run_op(databases["op_db"]["exp"]).status == compat.MISSING


def test_runner_classifies_modules(databases, monkeypatch):
    assert compat.run_module(databases["module_db"]["nn.Linear"]).status == compat.PASS
    monkeypatch.setattr(fastnn.nn.Linear, "forward",
                        lambda self, input: fastnn.nn.functional.linear(input, self.weight * 1.01,
                                                                    self.bias))
    r = compat.run_module(databases["module_db"]["nn.Linear"])
    assert r.status == compat.FAIL and "output" in r.detail


def test_markdown_round_trip():
    rs = [compat.Result("op_db", "add", compat.PASS), compat.Result("op_db", "x|y", compat.FAIL,
                                                                     "a | b"),
          compat.Result("module_db", "nn.Linear", compat.MISSING, "nn.Linear")]
    text = compat.markdown(rs, elapsed=1.0)
    assert "**1/2**" in text and "**0/1**" in text
    assert compat.parse_markdown(text)[("op_db", "add")] == compat.PASS
    assert compat.parse_markdown(text)[("module_db", "nn.Linear")] == compat.MISSING


def test_import_fastnn_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, fastnn, fastnn.compat; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**__import__("os").environ})
    assert out.stdout.strip() == "False"


def test_deadline_stops_a_hanging_entry():
    with pytest.raises(compat._Timeout):
        with compat._deadline(0.2):
            while True:
                np.zeros(10).sum()
