#!/usr/bin/env bash
# The C++ kernels under AddressSanitizer + UndefinedBehaviorSanitizer (issue 17's second safety
# net): builds the baseline and AVX2 variants with -fsanitize=address,undefined into a copy of
# the package, preloads the sanitizer runtimes into Python and runs the tests that drive the cpp
# kernels hardest: the hostile-input regressions, the property tests and the GEMM edge cases.
# Any out-of-bounds access, use-after-free or undefined behaviour aborts the run.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d .venv ] && . .venv/bin/activate
start=$(date +%s)
# setup.py needs the build requirements that `pip install -e .` kept in its isolated build env
python -m pip install -q "setuptools>=69" wheel "pybind11>=2.12"
work=$(mktemp -d /tmp/fastnn-asan.XXXXXX)
cp -r fastnn tests "$work"/
rm -f "$work"/fastnn/_C_*.so
FASTNN_SANITIZE=1 FASTNN_ISA_VARIANTS=baseline,avx2 python setup.py -q build_ext \
    --build-lib "$work" --build-temp "$work/build" >"$work/build.log" 2>&1 \
    || { tail -50 "$work/build.log"; exit 1; }
echo "sanitizer build: $(( $(date +%s) - start )) s"
cd "$work"
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export FASTNN_CPU_CAPABILITY=avx2 PYTHONPATH="$work" FASTNN_FUZZ_SECONDS=20
python -c "import fastnn.backends.cpp as c; assert c.available()[0], c.available(); print('cpp under ASan:', c.lib().__file__)"
python -m pytest -q -p no:cacheprovider tests/test_hardening.py tests/test_properties.py \
    tests/test_gemm_cpp.py tests/test_fuzz.py -k "cpp or hardening or bindings or fuzz"
echo "sanitizer run: $(( $(date +%s) - start )) s"
rm -rf "$work"
