"""Bounded runs of the atheris fuzz targets in tests/fuzz/ (issue 17's third safety net): the
loader and the kernel bindings' argument checks. A finding makes libFuzzer exit non-zero and
leaves a crash-* file in the work folder; the seed corpus is tests/fuzz/corpus_load.
FASTNN_FUZZ_SECONDS sets the run length (default 30 s per target)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")
HERE = Path(__file__).parent / "fuzz"
SECONDS = int(os.environ.get("FASTNN_FUZZ_SECONDS", "30"))


@pytest.mark.parametrize("target", ["fuzz_load.py", "fuzz_bindings.py"])
def test_fuzz_target_runs_clean(target, tmp_path):
    corpus = tmp_path / "corpus"
    if target == "fuzz_load.py":
        shutil.copytree(HERE / "corpus_load", corpus)
    else:
        corpus.mkdir()
    proc = subprocess.run(
        [sys.executable, str(HERE / target), str(corpus), f"-max_total_time={SECONDS}",
         "-rss_limit_mb=4096", f"-artifact_prefix={tmp_path}/", "-print_final_stats=1"],
        capture_output=True, text=True, timeout=SECONDS + 600, cwd=tmp_path,
    )
    tail = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("INFO:"))
    assert proc.returncode == 0, tail[-3000:]
    runs = [line for line in proc.stderr.splitlines()
            if line.startswith("stat::number_of_executed_units")]
    assert runs and int(runs[0].split(":")[-1]) > 100, tail[-3000:]
