"""Numba CPU GEMM: packed panels, a register-blocked micro-kernel, prange over row blocks.

Algorithm (BLIS/Goto structure, all in @njit code):

* loop jc over N in NC-wide column blocks, pc over K in KC-deep slices;
* pack op(b)[pc:pc+kc, jc:jc+nc] into NR-wide column panels (p-major, zero-padded), in parallel
  (row ranges of b, or panel ranges when trans_b), reading along b's contiguous axis;
* prange over row blocks (MC rows, one static share per thread): pack op(a)[ic:ic+mc, pc:pc+kc]
  into MR-tall row panels (p-major, zero-padded), then for every (NR panel, MR panel) pair run the
  micro-kernel and the epilogue;
* micro-kernel: MR x NR = 6 x (2 vectors) accumulators held in SIMD registers for the whole kc
  loop -- 12 zmm on AVX-512 (6 x 32 float32, 6 x 16 float64), 12 ymm on AVX2 (6 x 16 / 6 x 8),
  12 xmm otherwise; one broadcast-FMA per vector. Numba has no SIMD types, so a tiny set of
  llvmlite intrinsics (_vload / _vfma / _vstore / _vgather, below) gives `<VBITS/32 x float>`
  values, VBITS picked from the CPU Numba compiles for (_vector_bits);
* loop order inside a row block: A micro-panel (MR x KC, 12 KiB) outer so it stays in L1, B panels
  (KC x NC block, L2/L3) streamed inner; KC = 512, MC <= 144, NC = 4096;
* epilogue while the tile is hot: full tiles in SIMD registers (first K slice `c = alpha*acc
  (+ beta*c)`, later slices `c += alpha*acc`, the last adds bias), edge tiles via a small buffer;
  the last slice then applies relu/gelu(erf)/sigmoid/tanh elementwise;
* trans flags are absorbed by the packing routines; float32 input accumulates in float32, float64
  in float64; zero-size M/N return at once, K == 0 runs the epilogue alone.

One compiled specialisation per dtype (about 9 s of CPU to compile each, then cached): the adapter
always passes read-only views of a/b, a bias array (empty when there is none) and an output array,
plus int flags.

Versions (ratio: time vs NumPy/OpenBLAS in the same run, 1 thread, process CPU time; the
figures per shape in docs/benchmarks.md, "Kernel history"):
  version  idea                                          measured                     date
  1        B panels outer, KC 256, scalar epilogue,      0.56-0.67x (Zen 4)           2026-11-23
           column-walking packing
  2 (now)  A panel outer (L1), KC 512, SIMD epilogue     Zen 4 AVX-512 0.89-1.05x;    2026-12-01
           with relu, VBITS from the CPU (6 x 2-vector   Zen 3 AVX2 0.66-0.89x
           tile, shared with conv2d: _tile_6x2)
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

MR = 6  # rows of the register tile
KC = 512  # depth of a packed slice: an MR x KC panel of A in L1, a KC x NC block of B in L2/L3
MC_MAX = 144  # rows per packed A block (multiple of MR): MC x KC in L2
NC = 4096  # columns per packed B block
SERIAL_BELOW = 96**3  # M*N*K under which one thread is faster than waking the others

_ACT = {None: 0, "relu": 1, "gelu": 2, "sigmoid": 3, "tanh": 4}


def _vector_bits():
    """Width of the SIMD values below, from the CPU Numba compiles for: 512 with AVX-512F, 256
    with AVX2, else 128. The 6 x 2-vector tile then takes 12 of the 32 zmm / 16 ymm / 16 xmm
    registers. (A fixed 512 on an AVX2-only Zen 3 made each vector two ymm: 24 accumulators in
    16 registers, spilled.) NUMBA_CPU_FEATURES, when set, is what Numba targets, so it wins."""
    import llvmlite.binding as llvm

    feats = numba.core.config.CPU_FEATURES
    if feats:
        have = {f[1:] for f in feats.split(",") if f.startswith("+")}
    else:
        have = {k for k, v in llvm.get_host_cpu_features().items() if v}
    if "avx512f" in have:
        return 512
    if "avx2" in have and "fma" in have:
        return 256
    return 128


VBITS = _vector_bits()

# ------------------------------------------------------------------ SIMD values for Numba code


class _Vec(types.Type):
    """A VBITS-wide SIMD value of ``dtype`` lanes (16 float32 / 8 float64 on AVX-512)."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.lanes = VBITS // dtype.bitwidth
        super().__init__(name=f"vec{self.lanes}x{dtype}")


@register_model(_Vec)
class _VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        elem = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(elem, fe_type.lanes))


def _elem_ptr(context, builder, arrty, arr, idxty, idx):
    data = context.make_array(arrty)(context, builder, arr).data
    return builder.gep(data, [context.cast(builder, idx, idxty, types.intp)])


@intrinsic
def _lanes(typingctx, arr):
    """Lanes of a _Vec of arr's dtype, as a compile-time constant."""
    n = VBITS // arr.dtype.bitwidth

    def codegen(context, builder, sig, args):
        return context.get_constant(types.intp, n)

    return types.intp(arr), codegen


@intrinsic
def _vzero(typingctx, arr):
    vt = _Vec(arr.dtype)

    def codegen(context, builder, sig, args):
        return ir.Constant(context.get_value_type(vt), None)

    return vt(arr), codegen


@intrinsic
def _vload(typingctx, arr, idx):
    """arr[idx : idx + lanes] as a vector (unaligned load, no bounds check)."""
    vt = _Vec(arr.dtype)

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        lty = context.get_value_type(vt)
        return builder.load(builder.bitcast(ptr, lty.as_pointer()), align=arr.dtype.bitwidth // 8)

    return vt(arr, idx), codegen


@intrinsic
def _vstore(typingctx, arr, idx, vec):
    """arr[idx : idx + lanes] = vec."""

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        lty = context.get_value_type(sig.args[2])
        vptr = builder.bitcast(ptr, lty.as_pointer())
        builder.store(args[2], vptr, align=arr.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return types.none(arr, idx, vec), codegen


def _splat(builder, vty, scalar):
    vec = builder.insert_element(ir.Constant(vty, ir.Undefined), scalar, cgutils.int32_t(0))
    mask = ir.Constant(ir.VectorType(ir.IntType(32), vty.count), None)
    return builder.shuffle_vector(vec, ir.Constant(vty, ir.Undefined), mask)


def _fmuladd(builder, vty, x, y, z):
    """x * y + z as llvm.fmuladd: one FMA where the CPU has it, mul + add where it does not."""
    fnty = ir.FunctionType(vty, [vty, vty, vty])
    name = f"llvm.fmuladd.v{vty.count}{vty.element.intrinsic_name}"
    return builder.call(cgutils.get_or_insert_function(builder.module, fnty, name), [x, y, z])


@intrinsic
def _vfma(typingctx, arr, idx, b, c):
    """c + arr[idx] * b, arr[idx] broadcast to every lane."""

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        vty = context.get_value_type(sig.args[2])
        return _fmuladd(builder, vty, _splat(builder, vty, builder.load(ptr)), args[2], args[3])

    return c(arr, idx, b, c), codegen


@intrinsic
def _vgather(typingctx, arr, idx, stride):
    """arr[idx + l * stride] for every lane l (llvm.masked.gather: vgatherdps on AVX-512/AVX2,
    scalar loads elsewhere)."""
    vt = _Vec(arr.dtype)

    def codegen(context, builder, sig, args):
        vty = context.get_value_type(vt)
        n = vty.count
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        base = context.cast(builder, args[1], sig.args[1], types.intp)
        st = context.cast(builder, args[2], sig.args[2], types.intp)
        i64 = ir.IntType(64)
        ivt = ir.VectorType(i64, n)
        lane = ir.Constant(ivt, [ir.Constant(i64, v) for v in range(n)])
        off = builder.add(_splat(builder, ivt, base), builder.mul(lane, _splat(builder, ivt, st)))
        size = arr.dtype.bitwidth // 8
        esz = ir.Constant(ivt, [ir.Constant(i64, size)] * n)
        addr = builder.add(_splat(builder, ivt, builder.ptrtoint(data, i64)), builder.mul(off, esz))
        ptrs = builder.inttoptr(addr, ir.VectorType(data.type, n))  # llvmlite's gep is scalar-only
        maskty = ir.VectorType(ir.IntType(1), n)
        fnty = ir.FunctionType(vty, [ptrs.type, ir.IntType(32), maskty, vty])
        name = f"llvm.masked.gather.v{n}{vty.element.intrinsic_name}.v{n}p0"
        fn = cgutils.get_or_insert_function(builder.module, fnty, name)
        mask = ir.Constant(maskty, [ir.Constant(ir.IntType(1), 1)] * n)
        undef = ir.Constant(vty, ir.Undefined)
        return builder.call(fn, [ptrs, ir.Constant(ir.IntType(32), size), mask, undef])

    return vt(arr, idx, stride), codegen


@intrinsic
def _vaxpy(typingctx, s, x, y):
    """s * x + y for a scalar s (of the vectors' dtype)."""

    def codegen(context, builder, sig, args):
        vty = context.get_value_type(sig.args[1])
        return _fmuladd(builder, vty, _splat(builder, vty, args[0]), args[1], args[2])

    return x(s, x, y), codegen


@intrinsic
def _vscale(typingctx, x, s):
    """x * s for a scalar s."""

    def codegen(context, builder, sig, args):
        vty = context.get_value_type(sig.args[0])
        return builder.fmul(args[0], _splat(builder, vty, args[1]))

    return x(x, s), codegen


@intrinsic
def _vrelu(typingctx, x):
    """max(x, 0) per lane, NaN kept (as np.maximum)."""

    def codegen(context, builder, sig, args):
        zero = ir.Constant(args[0].type, None)
        return builder.select(builder.fcmp_ordered("<", args[0], zero), zero, args[0])

    return x(x), codegen


@intrinsic
def _vadd(typingctx, x, y):
    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], args[1])

    return x(x, y), codegen


# -------------------------------------------------------------------------------- the kernel


@njit(cache=True)
def _tile_6x2(kc, ap, aoff, b, boff, koff, s0, s1, s2, s3, s4, s5):
    """The one 6 x 2-vector register tile of the Numba backend (this GEMM and the conv2d
    forward): returns the 12 accumulators, row r (both vectors) starting from s_r, plus
    A panel (kc x MR, p-major, from ``aoff``) x B, where B row k is the 2 vectors at
    ``b[boff + koff[k]]``: a packed GEMM panel (koff[k] = k * NR), an im2col buffer
    (koff[k] = k * ldb) or the padded conv input shifted per tap."""
    w = _lanes(b)
    c00 = c01 = s0
    c10 = c11 = s1
    c20 = c21 = s2
    c30 = c31 = s3
    c40 = c41 = s4
    c50 = c51 = s5
    for k in range(kc):
        o = boff + koff[k]
        b0 = _vload(b, o)
        b1 = _vload(b, o + w)
        c00 = _vfma(ap, aoff, b0, c00)
        c01 = _vfma(ap, aoff, b1, c01)
        c10 = _vfma(ap, aoff + 1, b0, c10)
        c11 = _vfma(ap, aoff + 1, b1, c11)
        c20 = _vfma(ap, aoff + 2, b0, c20)
        c21 = _vfma(ap, aoff + 2, b1, c21)
        c30 = _vfma(ap, aoff + 3, b0, c30)
        c31 = _vfma(ap, aoff + 3, b1, c31)
        c40 = _vfma(ap, aoff + 4, b0, c40)
        c41 = _vfma(ap, aoff + 4, b1, c41)
        c50 = _vfma(ap, aoff + 5, b0, c50)
        c51 = _vfma(ap, aoff + 5, b1, c51)
        aoff += MR
    return c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51


@njit(cache=True)
def _store_6x2(c, coff, ldc, relu, acc):
    """Row r of the tile (``acc`` as _tile_6x2 returns it) to c[coff + r*ldc : + 2 vectors],
    through max(., 0) when relu."""
    w = _lanes(c)
    c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51 = acc
    if relu:
        c00, c01, c10, c11 = _vrelu(c00), _vrelu(c01), _vrelu(c10), _vrelu(c11)
        c20, c21, c30, c31 = _vrelu(c20), _vrelu(c21), _vrelu(c30), _vrelu(c31)
        c40, c41, c50, c51 = _vrelu(c40), _vrelu(c41), _vrelu(c50), _vrelu(c51)
    _vstore(c, coff, c00)
    _vstore(c, coff + w, c01)
    _vstore(c, coff + ldc, c10)
    _vstore(c, coff + ldc + w, c11)
    _vstore(c, coff + 2 * ldc, c20)
    _vstore(c, coff + 2 * ldc + w, c21)
    _vstore(c, coff + 3 * ldc, c30)
    _vstore(c, coff + 3 * ldc + w, c31)
    _vstore(c, coff + 4 * ldc, c40)
    _vstore(c, coff + 4 * ldc + w, c41)
    _vstore(c, coff + 5 * ldc, c50)
    _vstore(c, coff + 5 * ldc + w, c51)


@njit(cache=True)
def _micro_kernel(kc, ap, aoff, bp, boff, koff, full, tile, cf, coff, ldc, alpha, beta, mode,
                  bias, col, add_bias, relu):
    """acc[MR, NR] = A panel (kc x MR, p-major) x B panel (kc x NR, p-major, koff[k] = k * NR),
    NR = 2 lanes; a full tile goes straight into C (flat ``cf`` from ``coff``, row stride
    ``ldc``, see _store_row), an edge tile into ``tile`` for _epilogue."""
    w = _lanes(bp)
    z = _vzero(bp)
    acc = _tile_6x2(kc, ap, aoff, bp, boff, koff, z, z, z, z, z, z)
    if not full:  # an edge tile: park the accumulators for the scalar epilogue
        _store_6x2(tile, 0, 2 * w, False, acc)
        return
    c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51 = acc
    _store_row(cf, coff, w, c00, c01, alpha, beta, mode, bias, col, add_bias, relu)
    _store_row(cf, coff + ldc, w, c10, c11, alpha, beta, mode, bias, col, add_bias, relu)
    _store_row(cf, coff + 2 * ldc, w, c20, c21, alpha, beta, mode, bias, col, add_bias, relu)
    _store_row(cf, coff + 3 * ldc, w, c30, c31, alpha, beta, mode, bias, col, add_bias, relu)
    _store_row(cf, coff + 4 * ldc, w, c40, c41, alpha, beta, mode, bias, col, add_bias, relu)
    _store_row(cf, coff + 5 * ldc, w, c50, c51, alpha, beta, mode, bias, col, add_bias, relu)


@njit(cache=True)
def _store_row(cf, off, w, v0, v1, alpha, beta, mode, bias, col, add_bias, relu):
    """One full tile row into C, vectorised: mode 0 `alpha*acc`, 1 `c + alpha*acc`,
    2 `alpha*acc + beta*c`; then `+ bias` and relu on the last K slice."""
    if mode == 0:
        v0 = _vscale(v0, alpha)
        v1 = _vscale(v1, alpha)
    elif mode == 1:
        v0 = _vaxpy(alpha, v0, _vload(cf, off))
        v1 = _vaxpy(alpha, v1, _vload(cf, off + w))
    else:
        v0 = _vaxpy(alpha, v0, _vscale(_vload(cf, off), beta))
        v1 = _vaxpy(alpha, v1, _vscale(_vload(cf, off + w), beta))
    if add_bias:
        v0 = _vadd(v0, _vload(bias, col))
        v1 = _vadd(v1, _vload(bias, col + w))
    if relu:
        v0 = _vrelu(v0)
        v1 = _vrelu(v1)
    _vstore(cf, off, v0)
    _vstore(cf, off + w, v1)


@njit(cache=True)
def _activate(v, act):
    x = float(v)
    if act == 1:
        return x if not x < 0.0 else 0.0
    if act == 2:
        return 0.5 * x * (1.0 + math.erf(x * 0.7071067811865476))
    if act == 3:
        if x >= 0.0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)
    if act == 4:
        return math.tanh(x)
    return x


@njit(cache=True)
def _epilogue(tile, nr_pad, c, r0, c0, mr, nr, alpha, beta, first, last, bias, has_bias, act):
    """Combine an accumulated tile with c[r0:r0+mr, c0:c0+nr] (see the module docstring)."""
    for i in range(mr):
        t = i * nr_pad
        r = r0 + i
        if first:
            if beta == 0:
                for j in range(nr):
                    c[r, c0 + j] = alpha * tile[t + j]
            else:
                for j in range(nr):
                    c[r, c0 + j] = alpha * tile[t + j] + beta * c[r, c0 + j]
        else:
            for j in range(nr):
                c[r, c0 + j] += alpha * tile[t + j]
        if last:
            if has_bias:
                for j in range(nr):
                    c[r, c0 + j] += bias[c0 + j]
    if last and act != 0:
        _activate_tile(c, r0, c0, mr, nr, act)


@njit(cache=True)
def _activate_tile(c, r0, c0, mr, nr, act):
    for i in range(r0, r0 + mr):
        for j in range(c0, c0 + nr):
            c[i, j] = _activate(c[i, j], act)


@njit(cache=True)
def _pack_a(a, trans_a, ic, mc, pc, kc, ap):
    """ap[panel][p][i] = op(a)[ic + panel*MR + i, pc + p], zero rows past mc. Reads run along
    a's contiguous axis for both trans flags."""
    for q in range((mc + MR - 1) // MR):
        base = q * kc * MR
        r0 = ic + q * MR
        rows = min(MR, mc - q * MR)
        if not trans_a:
            for i in range(rows):
                src = a[r0 + i]
                for p in range(kc):
                    ap[base + p * MR + i] = src[pc + p]
            for p in range(kc):
                for i in range(rows, MR):
                    ap[base + p * MR + i] = 0
    if trans_a:  # a is (K, M): row pc+p of a is column pc+p of op(a), copied in one pass
        nfull = mc // MR
        for p in range(kc):
            src = a[pc + p]
            for q in range(nfull):
                dst = q * kc * MR + p * MR
                r0 = ic + q * MR
                for i in range(MR):  # constant trip count: unrolled
                    ap[dst + i] = src[r0 + i]
            if nfull * MR < mc:
                dst = nfull * kc * MR + p * MR
                rows = mc - nfull * MR
                for i in range(rows):
                    ap[dst + i] = src[ic + nfull * MR + i]
                for i in range(rows, MR):
                    ap[dst + i] = 0


@njit(cache=True)
def _pack_b(b, trans_b, jc, nc, pc, kc, nr_pad, t, ntasks, bp):
    """Share t of ntasks of packing op(b)[pc:pc+kc, jc:jc+nc] into bp[panel][p][j] (NR-wide
    panels, zero columns past nc). b (K, N) is split by rows p and copied row by row (long
    contiguous reads, no 4 KiB-strided walks down a column); b (N, K) (trans_b) by panels."""
    npanels = (nc + nr_pad - 1) // nr_pad
    if trans_b:
        for q in range(t, npanels, ntasks):
            base = q * kc * nr_pad
            cols = min(nr_pad, nc - q * nr_pad)
            col0 = jc + q * nr_pad
            if cols == nr_pad:  # gathered NR-wide rows; the NR source rows stay in L1
                bf = b.reshape(b.size)
                ldb = b.shape[1]
                w = _lanes(bp)
                for p in range(kc):
                    dst = base + p * nr_pad
                    src = col0 * ldb + pc + p
                    _vstore(bp, dst, _vgather(bf, src, ldb))
                    _vstore(bp, dst + w, _vgather(bf, src + w * ldb, ldb))
            else:
                for j in range(cols):
                    src_row = b[col0 + j]
                    for p in range(kc):
                        bp[base + p * nr_pad + j] = src_row[pc + p]
            for p in range(kc):
                for j in range(cols, nr_pad):
                    bp[base + p * nr_pad + j] = 0
    else:  # full panels as two SIMD copies per row, the edge panel element-wise
        w = _lanes(bp)
        bf = b.reshape(b.size)
        ldb = b.shape[1]
        nfull = nc // nr_pad
        p0 = kc * t // ntasks
        p1 = kc * (t + 1) // ntasks
        for p in range(p0, p1):
            off = (pc + p) * ldb + jc
            for q in range(nfull):
                dst = q * kc * nr_pad + p * nr_pad
                _vstore(bp, dst, _vload(bf, off + q * nr_pad))
                _vstore(bp, dst + w, _vload(bf, off + q * nr_pad + w))
            if nfull < npanels:
                dst = nfull * kc * nr_pad + p * nr_pad
                cols = nc - nfull * nr_pad
                for j in range(cols):
                    bp[dst + j] = bf[off + nfull * nr_pad + j]
                for j in range(cols, nr_pad):
                    bp[dst + j] = 0


@njit(parallel=True, cache=True)
def _gemm(a, b, bias, has_bias, act, trans_a, trans_b, alpha, beta, c, nthreads):
    m, n = c.shape
    k = a.shape[0] if trans_a else a.shape[1]
    if m == 0 or n == 0:
        return
    if k == 0:  # no product: act(beta * c + bias)
        for i in range(m):
            for j in range(n):
                v = beta * c[i, j] if beta != 0 else beta - beta
                if has_bias:
                    v += bias[j]
                c[i, j] = _activate(v, act)
        return
    nr_pad = 2 * _lanes(c)
    # row blocks: at least one per thread, a multiple of the thread count, MR-aligned
    nblocks = max(nthreads, (m + MC_MAX - 1) // MC_MAX)
    nblocks = (nblocks + nthreads - 1) // nthreads * nthreads
    mc_blk = ((m + nblocks - 1) // nblocks + MR - 1) // MR * MR
    nblocks = (m + mc_blk - 1) // mc_blk
    workers = min(nthreads, nblocks)
    kc_max = min(KC, k)
    nc_max = min(NC, (n + nr_pad - 1) // nr_pad * nr_pad)
    bp = np.empty(kc_max * nc_max, c.dtype)
    ap_all = np.empty((workers, mc_blk * kc_max), c.dtype)
    tiles = np.empty((workers, MR * nr_pad), c.dtype)
    koff = np.arange(kc_max) * nr_pad  # B panel row k (see _tile_6x2)
    cf = c.reshape(m * n)
    for jc in range(0, n, NC):
        nc = min(NC, n - jc)
        npanels = (nc + nr_pad - 1) // nr_pad
        for pc in range(0, k, KC):
            kc = min(KC, k - pc)
            first = pc == 0
            last = pc + kc >= k
            mode = 1 if not first else (0 if beta == 0 else 2)
            for t in prange(nthreads):
                _pack_b(b, trans_b, jc, nc, pc, kc, nr_pad, t, nthreads, bp)
            for w in prange(workers):
                ap = ap_all[w]
                tile = tiles[w]
                for blk in range(w, nblocks, workers):
                    ic = blk * mc_blk
                    mc = min(mc_blk, m - ic)
                    _pack_a(a, trans_a, ic, mc, pc, kc, ap)
                    for ip in range((mc + MR - 1) // MR):
                        for q in range(npanels):
                            nr = min(nr_pad, nc - q * nr_pad)
                            r0 = ic + ip * MR
                            c0 = jc + q * nr_pad
                            mr = min(MR, mc - ip * MR)
                            full = mr == MR and nr == nr_pad
                            _micro_kernel(kc, ap, ip * kc * MR, bp, q * kc * nr_pad, koff,
                                          full, tile, cf, r0 * n + c0, n, alpha, beta, mode,
                                          bias, c0, last and has_bias, last and act == 1)
                            if not full:
                                _epilogue(tile, nr_pad, c, r0, c0, mr, nr, alpha, beta, first,
                                          last, bias, has_bias, act)
                            elif last and act > 1:  # relu was applied in registers
                                _activate_tile(c, r0, c0, MR, nr_pad, act)


def _readonly(x):
    """A read-only view: Numba compiles separately for read-only and writable arrays, and inputs
    arrive both ways (matmul's broadcast views are read-only); one type keeps one compilation."""
    if not x.flags.writeable:
        return x
    v = x.view()
    v.flags.writeable = False
    return v


def gemm(a, b, bias, activation, trans_a, trans_b, alpha, beta, out):
    """The contract's gemm (fastnn.backends.contract.gemm) on the Numba kernel above."""
    m = a.shape[1] if trans_a else a.shape[0]
    n = b.shape[0] if trans_b else b.shape[1]
    k = a.shape[0] if trans_a else a.shape[1]
    dt = a.dtype
    if out is None:
        out = np.empty((m, n), dtype=dt)
        beta = 0.0
    has_bias = bias is not None
    bias_arr = bias if has_bias else np.empty(0, dtype=dt)
    args = (_readonly(a), _readonly(b), _readonly(bias_arr), has_bias, _ACT[activation],
            bool(trans_a), bool(trans_b), dt.type(alpha), dt.type(beta), out)
    threads = numba.get_num_threads()
    if threads > 1 and m * n * k < SERIAL_BELOW:
        # waking the pool costs more than a small product saves (far more on a busy machine,
        # where a parked thread waits for a time slice): run it on the calling thread alone
        numba.set_num_threads(1)
        try:
            _gemm(*args, 1)
        finally:
            numba.set_num_threads(threads)
    else:
        _gemm(*args, threads)
    return out
