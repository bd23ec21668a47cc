#!/usr/bin/env bash
# CI wheel step, run by .ci/run after the README's test command (it needs the .venv that made):
# sdist -> wheel (from the sdist, packing the extension modules the editable install compiled and
# the tests ran, instead of compiling the three ISA variants again) -> auditwheel repair -> install
# into a fresh venv outside the source tree -> `python -m fastnn info`, `python -m fastnn.smoke` on
# every CPU backend, every ISA variant this CPU runs, and the CUDA kernels in the simulator -> one
# OpenMP runtime in a process that imports fastnn and torch, in either order.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. .venv/bin/activate
work=$(mktemp -d "${TMPDIR:-/tmp}/fastnn-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
step() { echo "+ $*"; "$@"; }
t0=$(date +%s)

FASTNN_PREBUILT="$root/fastnn" step python -m build --outdir "$work/dist" .
whl=$(ls "$work"/dist/*.whl)
step auditwheel repair --wheel-dir "$work/wheelhouse" "$whl"
fixed=$(ls "$work"/wheelhouse/*.whl)
step auditwheel show "$fixed"
echo "wheel: $(basename "$fixed") ($(du -k "$fixed" | cut -f1) KiB)"
t1=$(date +%s)

step python -m venv "$work/venv"
py="$work/venv/bin/python"
# torch: only to prove the OpenMP runtime is shared; numba-cuda: the CUDA simulator
step "$py" -m pip install -q "$fixed" "numba-cuda>=0.20" "torch==2.13.0"
t2=$(date +%s)

cd "$work"  # nothing from the source tree on sys.path
step "$py" -c "import fastnn, sys; f = fastnn.__file__; print(f); \
sys.exit(0 if f.startswith('$work/venv/') else 'fastnn was not imported from the wheel')"
step "$py" -m fastnn info
step "$py" -m fastnn.smoke --backend reference --backend numba
for isa in baseline avx2 avx512; do
    if "$py" -c "import sys; from fastnn.backends.cpp._loader import _import; \
sys.exit(0 if _import('baseline').cpu_supports('$isa') else 1)"; then
        FASTNN_CPU_CAPABILITY=$isa step "$py" -m fastnn.smoke --backend cpp
    else
        echo "skip ISA $isa: this CPU does not run it"
    fi
done
NUMBA_ENABLE_CUDASIM=1 step "$py" -m fastnn.smoke --backend cuda
step "$py" "$root/.ci/openmp_check.py" fastnn-first
step "$py" "$root/.ci/openmp_check.py" torch-first
t3=$(date +%s)
echo "wheel step: build+repair $((t1 - t0)) s, venv+install $((t2 - t1)) s," \
     "smoke $((t3 - t2)) s, total $((t3 - t0)) s"
