"""Builds the C++ extension once per ISA level: fastnn._C_baseline, fastnn._C_avx2, fastnn._C_avx512.

fastnn/backends/cpp/_loader.py picks the best one the CPU supports at import (FASTNN_CPU_CAPABILITY
overrides). No -march=native: a wheel must run on any x86-64 machine.
Set FASTNN_ISA_VARIANTS=avx512 (comma list) for a quicker development build of fewer variants.
"""

import glob
import os
import platform
import shutil
import threading

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import setup

ParallelCompile("FASTNN_BUILD_JOBS", default=0).install()

X86 = platform.machine().lower() in ("x86_64", "amd64")
ISA_FLAGS = {
    "baseline": [],
    "avx2": ["-mavx2", "-mfma", "-mf16c", "-mbmi2"],
    "avx512": ["-mavx2", "-mfma", "-mf16c", "-mbmi2",
               "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mprefer-vector-width=512"],
}
variants = os.environ.get("FASTNN_ISA_VARIANTS", "baseline,avx2,avx512" if X86 else "baseline")
variants = [v.strip() for v in variants.split(",") if v.strip()]
if "baseline" not in variants:
    variants.insert(0, "baseline")  # the baseline module also answers cpu-feature queries

sources = sorted(glob.glob("csrc/*.cpp"))
depends = sorted(glob.glob("csrc/*.h"))
ext_modules = [
    Pybind11Extension(
        f"fastnn._C_{isa}",
        sources,
        depends=depends,
        include_dirs=["csrc"],
        cxx_std=17,
        define_macros=[("FASTNN_MODULE", f"_C_{isa}"), ("FASTNN_ISA", f'"{isa}"')],
        extra_compile_args=["-O3", "-fopenmp", "-fno-math-errno", "-fno-trapping-math",
                            *ISA_FLAGS[isa]],
        extra_link_args=["-fopenmp"],
    )
    for isa in variants
]


class BuildExt(build_ext):
    """Per-variant temp dirs (the same sources compile with other flags) and atomic in-place copy
    (a running process that has the old .so mapped must not see it rewritten under it).
    One extension at a time: `build_ext -j N` builds extensions in threads, and build_temp is
    shared state (two variants' objects in one temp dir gave _C_avx2.so the baseline objects and
    no PyInit__C_avx2; the loader then silently fell back to baseline). Each extension's files
    still compile in parallel (ParallelCompile)."""

    _lock = threading.Lock()

    def build_extension(self, ext):
        with self._lock:
            base = self.build_temp
            self.build_temp = os.path.join(base, ext.name)
            try:
                super().build_extension(ext)
            finally:
                self.build_temp = base

    def copy_file(self, src, dst, *args, **kwargs):
        if not dst.endswith(".so"):
            return super().copy_file(src, dst, *args, **kwargs)
        if os.path.isdir(dst):
            dst = os.path.join(dst, os.path.basename(src))
        tmp = dst + ".tmp"
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
        return dst, 1


setup(ext_modules=ext_modules, cmdclass={"build_ext": BuildExt})
