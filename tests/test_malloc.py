"""fastnn._malloc: glibc tuned at import to keep freed blocks (FASTNN_MALLOC=default opts out);
an unknown value is refused with the variable's name; `fastnn info` reports the state."""

import os
import subprocess
import sys

import pytest


def _run(env_value, code="import fastnn, fastnn._malloc as m; print(m.status())"):
    env = dict(os.environ)
    env.pop("FASTNN_MALLOC", None)
    if env_value is not None:
        env["FASTNN_MALLOC"] = env_value
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc tuning is Linux-only")
def test_tuned_by_default_and_opt_out():
    tuned = _run(None)
    assert tuned.returncode == 0, tuned.stderr
    line = tuned.stdout.strip()
    assert ("freed blocks kept for reuse" in line and "256 MiB" in line) or "not glibc" in line
    default = _run("default")
    assert default.returncode == 0 and "glibc defaults (FASTNN_MALLOC=default)" in default.stdout


def test_bad_value_names_the_variable():
    bad = _run("fast")
    assert bad.returncode != 0 and "FASTNN_MALLOC" in bad.stderr and "'fast'" in bad.stderr


def test_info_reports_malloc():
    from fastnn import info

    assert "malloc: " in info.report()
