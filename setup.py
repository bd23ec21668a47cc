"""Builds the C++ extension once per ISA level: fastnn._C_baseline, _C_avx2, _C_avx512.

fastnn/backends/cpp/_loader.py picks the best one the CPU supports at import (FASTNN_CPU_CAPABILITY
overrides). No -march=native: a wheel must run on any x86-64 machine.
Set FASTNN_ISA_VARIANTS=avx512 (comma list) for a quicker development build of fewer variants.

OpenMP runtime: a wheel (any build that is not in place or editable) carries the compiler's
libgomp as fastnn/libgomp.so.1, soname unchanged, found through the extension's RUNPATH $ORIGIN.
That is how torch ships it (torch/lib/libgomp.so.1), so the dynamic loader, which reuses a library
already loaded under the same soname, gives a process that imports both one libgomp whichever comes
first; auditwheel's renamed copy (libgomp-<hash>.so.1) would be a second runtime beside torch's.
FASTNN_BUNDLE_OPENMP=0 leaves it out (the system's libgomp is then needed at run time).

FASTNN_PREBUILT=<dir> packs the extension modules already built in <dir> (e.g. `fastnn`, after an
editable install) instead of compiling them again; a module older than any source (or this
file) is an error. CI uses it to wheel the very binaries its tests ran, without compiling the three
variants a second time (4.3 CPU-minutes with GCC 12 here).
"""

import glob
import os
import platform
import shutil
import subprocess
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

# FASTNN_SANITIZE=1: AddressSanitizer + UndefinedBehaviorSanitizer build for .ci/sanitize.sh
# (never for a wheel: the runtime must be preloaded into Python)
SANITIZE = (["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
             "-fno-sanitize-recover=undefined", "-g"]
            if os.environ.get("FASTNN_SANITIZE") == "1" else [])

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
        extra_compile_args=["-O1" if SANITIZE else "-O3", "-fopenmp", "-fno-math-errno",
                            "-fno-trapping-math", *ISA_FLAGS[isa], *SANITIZE],
        # $ORIGIN: the bundled libgomp
        extra_link_args=["-fopenmp", "-Wl,-rpath,$ORIGIN", *SANITIZE[:1]],
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

    def run(self):
        super().run()
        if self.inplace or self.editable_mode or os.environ.get("FASTNN_BUNDLE_OPENMP") == "0":
            return
        src = self._libgomp()
        dst = os.path.join(self.build_lib, "fastnn", "libgomp.so.1")
        self.copy_file(src, dst)

    def _libgomp(self):
        """The libgomp.so.1 the compiler links against (what -fopenmp resolved to)."""
        words = [w for w in self.compiler.compiler_so if not w.startswith("-")]
        cxx = words[1] if os.path.basename(words[0]) in ("ccache", "sccache") else words[0]
        out = subprocess.run([cxx, "-print-file-name=libgomp.so.1"], capture_output=True,
                             text=True, check=True).stdout.strip()
        if not os.path.isabs(out) or not os.path.isfile(out):
            raise RuntimeError(f"{cxx} does not know where libgomp.so.1 is ({out!r}); install "
                               "the compiler's OpenMP runtime or set FASTNN_BUNDLE_OPENMP=0")
        return os.path.realpath(out)

    def build_extension(self, ext):
        prebuilt = os.environ.get("FASTNN_PREBUILT")
        if prebuilt:
            return self._copy_prebuilt(ext, prebuilt)
        with self._lock:
            base = self.build_temp
            self.build_temp = os.path.join(base, ext.name)
            try:
                super().build_extension(ext)
            finally:
                self.build_temp = base

    def _copy_prebuilt(self, ext, folder):
        src = os.path.join(folder, os.path.basename(self.get_ext_filename(ext.name)))
        if not os.path.isfile(src):
            raise RuntimeError(f"FASTNN_PREBUILT={folder}: {src} is missing; build it first "
                               "(pip install -e . or python setup.py build_ext --inplace)")
        stale = [f for f in [*ext.sources, *ext.depends, __file__]
                 if os.path.getmtime(f) > os.path.getmtime(src)]
        if stale:
            raise RuntimeError(f"FASTNN_PREBUILT={folder}: {src} is older than {stale[0]}; "
                               "rebuild it first")
        dst = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        self.copy_file(src, dst)

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
