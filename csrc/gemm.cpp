// GEMM, float32: C = act(alpha * op(A) op(B) + beta * C + bias), row-major.
//
// Algorithm (version 4):
//   Loops  jc (NC columns) > pc (KC = 256 depth, balanced) > pack B block (KC x NC floats = half
//          the L2: NC = 512 on Zen 4's 1 MB L2, 256 on Zen 3's 512 KB; sysconf, else CPUID)
//          > ir (MR rows) > jr (NR columns) > micro-kernel MR x NR.
//   Micro-tiles (simd.h): AVX-512 6x64 (24 zmm accumulators, 4 B loads + 6 broadcasts per
//   depth step), AVX2 6x16, baseline 6x8 (GCC vector extension, SSE2 on x86-64).
//   A: read in place, (r, p) at a[r*a_rs + p*a_ks], so trans_a is a stride swap. Packing A (v2)
//      measured slower everywhere here: the 6 rows stay in L1/L2 across the column panels, and the
//      6-way interleave cost as much as the arithmetic when N is narrow (64x10x256: 27.6 -> 45.6
//      GFLOP/s single-thread).
//      v4: trans_a packs each 6-row A micro-panel (a 6-float copy per depth step) where in place
//      would thrash L1 (depth >= 64 or row stride a multiple of 1 KB, and > 1 column panel).
//   B: packed into 64-byte aligned, zero-padded NR-wide panels (trans_b with in-register 16x16 /
//      8x8 transposes, never a materialised transpose), row by row of B with a 16-row prefetch.
//      AVX-512 only: when this thread's row range is <= 512 rows, B is not transposed and its
//      width is whole vectors, the kernel streams B's rows directly (32x256x784: 96.8 -> 109.6
//      GFLOP/s single-thread on Zen 4). AVX2 rows are one cache line, and there in place lost
//      everywhere on Zen 3 (64x1024x1024 0.38x NumPy in place vs 0.96x packed).
//   Row panels: AVX2/baseline split a 1..3-row last panel into two of 4/3, 4/4 or 5/4 rows (a
//   2-row tile has 4 accumulators, under the 8 two 4-cycle FMA pipes need).
//   Edges: the kernel is a template on rows (1..MR) and vectors (1..NV), so an edge tile runs the
//   same vector code on fewer registers; a partial last vector uses masked loads/stores.
//   Epilogue (alpha, beta*C, bias, relu) on the tile in registers on the last depth pass; gelu,
//   sigmoid and tanh are applied to the just-stored row while it is in L1 (scalar libm).
//   Threads: each OpenMP thread computes its own rectangle of C (split over M or N, whichever
//   repeats less packing; units of MR rows / W columns) with its own thread_local buffers: no
//   barriers inside, and the same code serves parallel=false inside a caller's OpenMP region.
//   One thread below 2*96^3 flops. Each output element is accumulated in the same order
//   whatever the thread split, so 1- and 2-thread results are bitwise equal.
//
// Versions (GFLOP/s, 1 thread, thread CPU time, ratio vs NumPy/OpenBLAS in the same run; the
// tables and training shapes in docs/benchmarks.md, "Kernel history")
//   version  idea                                     measured                           date
//   1        i-p-j loops, OpenMP over rows            -                                  2026-11-23
//   2        BLIS/Goto packed A panels + B blocks     -                                  2026-11-23
//   3        A read in place, B in place for short    Zen 4 AVX-512: 106-114 GF/s,       2026-11-23
//            row ranges                               1.00-1.11x; Zen 3 AVX2 0.63-1.02x
//   4 (now)  blocking from the detected L2, AVX2 and  Zen 3 AVX2: 84-94 GF/s,            2026-12-01
//            baseline pack B, A^T packed where in     0.89-1.02x (training shapes
//            place thrashes L1                        median 0.98-0.99x)
#include "gemm.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <utility>

#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "common.h"
#include "simd.h"

namespace fastnn {

Act parse_activation(const std::string& name) {
    if (name == "relu") return Act::Relu;
    if (name == "gelu") return Act::Gelu;
    if (name == "sigmoid") return Act::Sigmoid;
    if (name == "tanh") return Act::Tanh;
    throw py::value_error("activation: expected None, 'relu', 'gelu', 'sigmoid' or 'tanh', got '" +
                          name + "'");
}

namespace {

using simd::MR;
using simd::NR;
using simd::NV;
using simd::W;
using simd::vf;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Blocking, chosen once at first use from the detected L2 size (sysconf, else CPUID leaf
// 0x80000006; 1 MB if neither answers): the packed B block (KC x NC floats) takes half the L2.
// Zen 4 (1 MB L2): KC 256 x NC 512; Zen 3 (512 KB): KC 256 x NC 256.
// (the FASTNN_GEMM_* macros exist for tuning builds; setup.py never sets them)
#ifndef FASTNN_GEMM_KC
#define FASTNN_GEMM_KC 256
#endif
// Reading B in place (no packing) for short row ranges: AVX-512 only. Its NR = 64-float rows are
// 4 cache lines, so a panel row's TLB entry and strided fetch are shared by 4 lines' work; an AVX2
// row is one line, and on Zen 3 in place measured slower at every size tried (64x256x784 0.88x
// vs 0.99x NumPy packed, 64x1024x1024 0.43x vs 0.89x, 512^3 0.71x vs 1.06x, single thread).
#ifndef FASTNN_GEMM_DIRECT_B
#if defined(__AVX512F__)
#define FASTNN_GEMM_DIRECT_B 512
#else
#define FASTNN_GEMM_DIRECT_B 0
#endif
#endif
struct Blocking {
    int64_t kc;           // depth of a packed block
    int64_t nc;           // columns of a packed B block
    int64_t direct_rows;  // row ranges at most this tall may read B in place (see gemm_range)
    int64_t l2;           // bytes
    int pack_a;           // tuning: 0 auto, 1 always, -1 never
};

int64_t detect_l2_bytes() {
    long v = -1;
#ifdef _SC_LEVEL2_CACHE_SIZE
    v = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
#if defined(__x86_64__) || defined(__i386__)
    if (v <= 0) {
        unsigned a, b, c, d;
        if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000006u &&
            __get_cpuid(0x80000006u, &a, &b, &c, &d))
            v = (long)(c >> 16) * 1024;  // KB per core in ECX[31:16] (AMD and Intel)
    }
#endif
    return v >= 64 * 1024 ? (int64_t)v : (int64_t)1 << 20;
}

Blocking make_blocking() {
    Blocking b;
    b.l2 = detect_l2_bytes();
    b.kc = FASTNN_GEMM_KC;
#ifdef FASTNN_GEMM_NC
    b.nc = FASTNN_GEMM_NC;
#else
    b.nc = std::max<int64_t>(NR, (b.l2 / 2 / (b.kc * (int64_t)sizeof(float))) / NR * NR);
#endif
    b.direct_rows = FASTNN_GEMM_DIRECT_B;
    b.pack_a = 0;
#ifdef FASTNN_GEMM_TUNING
    // tuning builds only (CFLAGS=-DFASTNN_GEMM_TUNING): FASTNN_GEMM_TUNE=kc,nc,direct,pack_a
    // overrides the blocking at run time; a release build reads no environment variable here
    if (const char* t = std::getenv("FASTNN_GEMM_TUNE")) {
        long kc = 0, nc = 0, dr = -1, pa = 0;
        if (std::sscanf(t, "%ld,%ld,%ld,%ld", &kc, &nc, &dr, &pa) >= 1) {
            if (kc > 0) b.kc = kc;
            if (nc > 0) b.nc = round_up(nc, NR);
            if (dr >= 0) b.direct_rows = dr;
            b.pack_a = (int)pa;
        }
    }
#endif
    return b;
}

const Blocking& blocking() {
    static const Blocking b = make_blocking();
    return b;
}

// Below this many flops (2*M*N*K) one thread is faster than waking the OpenMP team.
constexpr double kParallelFlops = 2.0 * 96 * 96 * 96;

inline float act_scalar(float x, Act act) {
    switch (act) {
        case Act::Relu: return x < 0.f ? 0.f : x;  // NaN stays NaN
        case Act::Gelu: return 0.5f * x * (1.f + std::erf(x * 0.70710678118654752f));
        case Act::Sigmoid: return 1.f / (1.f + std::exp(-x));
        case Act::Tanh: return std::tanh(x);
        default: return x;
    }
}

// 64-byte aligned scratch that grows and is reused: one per thread (thread_local below), so
// concurrent callers never share it and steady-state calls do not allocate.
struct Scratch {
    float* p = nullptr;
    size_t n = 0;
    float* get(size_t need) {
        if (need > n) {
            std::free(p);
            size_t bytes = (size_t)round_up((int64_t)need * sizeof(float), 64);
            p = static_cast<float*>(std::aligned_alloc(64, bytes));
            if (!p) {
                n = 0;
                throw std::bad_alloc();
            }
            n = need;
        }
        return p;
    }
    ~Scratch() { std::free(p); }
};
thread_local Scratch tl_b;
thread_local Scratch tl_a;

struct Operands {
    bool ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    const float* A;
    int64_t lda;
    const float* B;
    int64_t ldb;
    float* C;
    int64_t ldc;
    const float* bias;
    Act act;
};

// What the micro-kernel does with its tile: t = alpha*acc (+ cscale*C if load_c);
// on the last depth pass also + bias and the activation.
struct Epilogue {
    float alpha, cscale;
    bool load_c, last;
    const float* bias;  // already offset to the tile's first column, or null
    Act act;
};

// ------------------------------------------------------------------------------------- packing

#ifndef FASTNN_GEMM_PACK_PF
#define FASTNN_GEMM_PACK_PF 16
#endif
// pack_b prefetches the B row this many rows ahead: B usually comes from L3 or DRAM and is read
// once per call, so for short M its latency, not the kernel, set the pace.
constexpr int64_t kPackPrefetchRows = FASTNN_GEMM_PACK_PF;

// B block op(B)[pc:pc+kc, j0:j0+nc] -> panels of NR columns, each kc x NR (row p at p*NR),
// zero-padded to a whole vector.
void pack_b(const Operands& o, int64_t pc, int64_t kc, int64_t j0, int64_t nc, float* bp) {
    if (!o.tb) {
        // Row by row of B (each read is nc contiguous floats, which the hardware prefetcher
        // streams), scattered into the panels. Panel by panel read each B row's NR floats at a
        // stride of ldb: a fresh cache line and often a fresh page per row, and packing took 29%
        // of 64x1024x1024 on Zen 3 (AVX2: 64 B per row).
        const int64_t nfull = nc / NR, w = nc - nfull * NR, wpad = round_up(w, W);
        for (int64_t p = 0; p < kc; ++p) {
            const float* src = o.B + (pc + p) * o.ldb + j0;
            float* dst = bp + p * NR;
            if (p + kPackPrefetchRows < kc)
                for (int64_t j = 0; j < nc; j += 16)  // one 64-byte line per prefetch
                    simd::prefetch(src + kPackPrefetchRows * o.ldb + j);
            for (int64_t q = 0; q < nfull; ++q) {
#pragma GCC unroll 8
                for (int v = 0; v < NV; ++v)
                    simd::store(dst + q * kc * NR + v * W, simd::loadu(src + q * NR + v * W));
            }
            if (w) {
                const float* s = src + nfull * NR;
                float* d = dst + nfull * kc * NR;
                for (int64_t j = 0; j < w; ++j) d[j] = s[j];
                for (int64_t j = w; j < wpad; ++j) d[j] = 0.f;
            }
        }
        return;
    }
    for (int64_t q = 0; q * NR < nc; ++q) {
        const int64_t jq = j0 + q * NR, w = std::min<int64_t>(NR, j0 + nc - jq);
        float* dst = bp + q * kc * NR;
        // op(B)(p, j) = B[j*ldb + p]: W rows of B at a time, W x W in-register transposes.
        for (int64_t jv = 0; jv * W < w; ++jv) {
            const int64_t jb = jq + jv * W, rows = std::min<int64_t>(W, j0 + nc - jb);
            const float* src = o.B + jb * o.ldb + pc;
            float* d = dst + jv * W;
            int64_t p = 0;
            if (rows == W)
                for (; p + W <= kc; p += W) simd::transpose_block(src + p, o.ldb, d + p * NR, NR);
            for (; p < kc; ++p) {
                for (int64_t r = 0; r < rows; ++r) d[p * NR + r] = src[r * o.ldb + p];
                for (int64_t r = rows; r < W; ++r) d[p * NR + r] = 0.f;
            }
        }
    }
}

// --------------------------------------------------------------------------------- micro-kernel

inline void act_row(float* c, int64_t n, Act act) {
    for (int64_t j = 0; j < n; ++j) c[j] = act_scalar(c[j], act);
}

// One ROWS x (NVEC*W) tile of C over depth kc.
// A is read in place: element (r, p) at a[r*a_rs + p*a_ks] (a_rs = lda, a_ks = 1, or transposed
// a_rs = 1, a_ks = lda). Packing A (the textbook BLIS step) measured slower here: the 6 rows stay
// in L1/L2 across the column panels anyway, and the scalar 6-way interleave cost as much as the
// arithmetic for narrow N (see the header table).
// B is a packed panel (PACKED_B: row p at b + p*NR, 64-byte aligned) or the caller's row-major B
// (row p at b + p*b_ks) when the block is too short in M to repay packing it.
// cols <= NVEC*W valid columns; the last vector of a row may be partial (masked).
template <int ROWS, int NVEC, bool PACKED_B>
void micro_kernel(int64_t kc, const float* __restrict a, int64_t a_rs, int64_t a_ks,
                  const float* __restrict b, int64_t b_ks, float* __restrict c, int64_t ldc,
                  int cols, const Epilogue& e) {
    vf acc[ROWS][NVEC];
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 8
        for (int v = 0; v < NVEC; ++v) acc[r][v] = simd::zero();
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r) {
        simd::prefetch(c + r * ldc);
        simd::prefetch(c + r * ldc + NVEC * W - 1);
    }
    if (PACKED_B) b_ks = NR;
#pragma GCC unroll 4
    for (int64_t p = 0; p < kc; ++p) {
        vf bv[NVEC];
#pragma GCC unroll 8
        for (int v = 0; v < NVEC; ++v) bv[v] = PACKED_B ? simd::load(b + v * W) : simd::loadu(b + v * W);
#pragma GCC unroll 16
        for (int r = 0; r < ROWS; ++r) {
            const vf av = simd::set1(a[r * a_rs]);
#pragma GCC unroll 8
            for (int v = 0; v < NVEC; ++v) acc[r][v] = simd::fmadd(av, bv[v], acc[r][v]);
        }
        a += a_ks;
        b += b_ks;
    }
    // epilogue, on the tile while it is in registers
    const vf va = simd::set1(e.alpha), vb = simd::set1(e.cscale);
    const bool vec_act = e.act == Act::None || e.act == Act::Relu;
    const int tail = cols - (NVEC - 1) * W;  // valid lanes of the last vector, 1..W
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r) {
        float* cr = c + r * ldc;
#pragma GCC unroll 8
        for (int v = 0; v < NVEC; ++v) {
            const int n = v + 1 < NVEC ? W : tail;
            vf t = simd::mul(acc[r][v], va);
            if (e.load_c) t = simd::fmadd(simd::loadu_n(cr + v * W, n), vb, t);
            if (e.last) {
                if (e.bias) t = simd::add(t, simd::loadu_n(e.bias + v * W, n));
                // operand order: max returns its second operand on NaN, which must stay NaN
                if (e.act == Act::Relu) t = simd::max(simd::zero(), t);
            }
            simd::storeu_n(cr + v * W, t, n);
        }
        if (e.last && !vec_act) act_row(cr, cols, e.act);
    }
}

using KernelFn = void (*)(int64_t, const float*, int64_t, int64_t, const float*, int64_t, float*,
                          int64_t, int, const Epilogue&);
using KernelTable = std::array<std::array<KernelFn, NV>, MR>;

template <bool P, int R, int... V>
constexpr std::array<KernelFn, NV> kernel_row(std::integer_sequence<int, V...>) {
    return {&micro_kernel<R, V + 1, P>...};
}

template <bool P, int... R>
constexpr KernelTable kernel_table(std::integer_sequence<int, R...>) {
    return {kernel_row<P, R + 1>(std::make_integer_sequence<int, NV>{})...};
}

// [rows - 1][vectors - 1]
constexpr KernelTable kernels_packed_b = kernel_table<true>(std::make_integer_sequence<int, MR>{});
constexpr KernelTable kernels_direct_b = kernel_table<false>(std::make_integer_sequence<int, MR>{});

// ------------------------------------------------------------------------------------- drivers

// A micro-panel op(A)[ir:ir+rows, pc:pc+kc] -> ap[p*MR + r] (rows < MR leave lanes unused).
void pack_a(const Operands& o, int64_t ir, int rows, int64_t pc, int64_t kc, float* ap) {
    if (o.ta) {  // row p of the panel is contiguous in A: a W-wide copy per depth step
        const float* src = o.A + pc * o.lda + ir;
        if (MR <= W && rows == MR) {  // (ap has W floats of slack for the last store)
            int64_t p = 0;
            for (; p + 1 < kc; ++p)
                simd::storeu(ap + p * MR, simd::loadu_n(src + p * o.lda, std::min(MR, W)));
            for (int r = 0; r < MR; ++r) ap[p * MR + r] = src[p * o.lda + r];
        } else {
            for (int64_t p = 0; p < kc; ++p)
                for (int r = 0; r < rows; ++r) ap[p * MR + r] = src[p * o.lda + r];
        }
    } else {
        const float* src = o.A + ir * o.lda + pc;
        for (int r = 0; r < rows; ++r) {
            const float* s = src + r * o.lda;
            for (int64_t p = 0; p < kc; ++p) ap[p * MR + r] = s[p];
        }
    }
}

// Height of the next row panel when `left` rows remain. A 2-row tile has only 2*NV accumulators;
// below 8 (2 FMA pipes x 4 cycles latency) it runs latency-bound, so where the last panel would
// have 1..3 rows the last MR+r rows are split into two panels of 4/3, 4/4 or 5/4 rows instead
// (AVX2: 32 rows = 4x6 + 2x4 instead of 5x6 + 2). AVX-512 (NV = 4) keeps 6 + r.
inline int64_t panel_rows(int64_t left) {
    constexpr bool split = 2 * NV < 8;
    if (split && left > MR && left < MR + 4) return (left + 1) / 2;
    return std::min<int64_t>(MR, left);
}

// C[i0:i1, j0:j1] on the calling thread.
void gemm_range(const Operands& o, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    const int64_t m = i1 - i0, n = j1 - j0;
    if (m <= 0 || n <= 0) return;
    const Blocking& bl = blocking();
    const int64_t nk = ceil_div(o.K, bl.kc), kcb = ceil_div(o.K, nk);  // balanced depth passes
    const int64_t nn = ceil_div(n, bl.nc), ncb = round_up(ceil_div(n, nn), NR);
    // A B block is read by every MR-row micro-panel; with few of them packing does not pay.
    // In place needs whole vectors (the kernel loads W columns at a time) and no transpose.
    const bool direct_b = !o.tb && m <= bl.direct_rows && n % W == 0;
    // A^T read in place touches one cache line of A per depth step; those kc lines must survive
    // the sweep over the column panels in L1. They do for short depth unless the row stride is a
    // multiple of 1 KB (then they share a few L1 sets); otherwise each 6-row panel is packed
    // (Zen 3, 1 thread, vs NumPy: A^T B 1024x512x1024 0.60 -> 0.89; 784x256x32 stays in place,
    // 1.04 vs 0.92 packed; one column panel never pays: 256x10x32 0.88 vs 0.69).
    const bool packed_a = bl.pack_a > 0 ||
                          (bl.pack_a == 0 && o.ta && std::min(n, bl.nc) > NR &&
                           (kcb >= 64 || o.lda % 256 == 0));
    float* bp = direct_b ? nullptr : tl_b.get((size_t)(kcb * std::min(ncb, round_up(n, NR))));
    float* ap = packed_a ? tl_a.get((size_t)(kcb * MR + W)) : nullptr;
    const KernelTable& kernels = direct_b ? kernels_direct_b : kernels_packed_b;
    for (int64_t jc = j0; jc < j1; jc += ncb) {
        const int64_t nc = std::min(ncb, j1 - jc);
        for (int64_t pc = 0; pc < o.K; pc += kcb) {
            const int64_t kc = std::min(kcb, o.K - pc);
            if (!direct_b) pack_b(o, pc, kc, jc, nc, bp);
            Epilogue e{o.alpha, pc == 0 ? o.beta : 1.f, pc > 0 || o.beta != 0.f, pc + kc >= o.K,
                       nullptr, o.act};
            int rows;
            for (int64_t ir = i0; ir < i1; ir += rows) {
                rows = (int)panel_rows(i1 - ir);
                const float* a = o.ta ? o.A + pc * o.lda + ir : o.A + ir * o.lda + pc;
                int64_t a_rs = o.ta ? 1 : o.lda, a_ks = o.ta ? o.lda : 1;
                if (packed_a) {
                    pack_a(o, ir, rows, pc, kc, ap);
                    a = ap, a_rs = 1, a_ks = MR;
                }
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    const int cols = (int)std::min<int64_t>(NR, nc - jr);
                    const float* b = direct_b ? o.B + pc * o.ldb + jc + jr : bp + (jr / NR) * kc * NR;
                    e.bias = o.bias ? o.bias + jc + jr : nullptr;
                    kernels[rows - 1][ceil_div(cols, W) - 1](kc, a, a_rs, a_ks, b, o.ldb,
                                                              o.C + ir * o.ldc + jc + jr, o.ldc,
                                                              cols, e);
                }
            }
        }
    }
}

// K == 0: C = act(beta * C + bias).
void scale_only(const Operands& o) {
    for (int64_t i = 0; i < o.M; ++i) {
        float* c = o.C + i * o.ldc;
        for (int64_t j = 0; j < o.N; ++j) {
            float t = o.beta != 0.f ? o.beta * c[j] : 0.f;
            if (o.bias) t += o.bias[j];
            c[j] = act_scalar(t, o.act);
        }
    }
}

// Splits C over T threads as a tm x tn grid (tm * tn == T) of MR-row / W-column units, choosing
// the grid that minimises per-thread work: the tile area plus the packing it repeats (every
// thread packs the B columns it uses and re-packs its A rows once per NC block).
void split(int64_t M, int64_t N, int T, int t, int64_t& i0, int64_t& i1, int64_t& j0,
           int64_t& j1) {
    const int64_t mu = ceil_div(M, MR), nu = ceil_div(N, W);
    int best_tm = 1;
    double best = 1e300;
    for (int tm = 1; tm <= T; ++tm) {
        if (T % tm) continue;
        const int tn = T / tm;
        const double rows = (double)ceil_div(mu, tm) * MR, cols = (double)ceil_div(nu, tn) * W;
        const double cost = rows * cols + 16.0 * (cols + rows * std::ceil(cols / blocking().nc));
        if (cost < best) best = cost, best_tm = tm;
    }
    const int tm = best_tm, tn = T / tm, ti = t / tn, tj = t % tn;
    i0 = std::min(M, mu * ti / tm * MR);
    i1 = std::min(M, mu * (ti + 1) / tm * MR);
    j0 = std::min(N, nu * tj / tn * W);
    j1 = std::min(N, nu * (tj + 1) / tn * W);
}

}  // namespace

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
           const float* bias, Act act, bool parallel) {
    if (M <= 0 || N <= 0) return;
    const Operands o{ta, tb, M, N, K, alpha, beta, A, lda, B, ldb, C, ldc, bias, act};
    if (K <= 0) {
        scale_only(o);
        return;
    }
    int nt = 1;
#ifdef _OPENMP
    const double flops = 2.0 * (double)M * (double)N * (double)K;
    if (parallel && !omp_in_parallel() && flops >= kParallelFlops)
        nt = (int)std::max<double>(1, std::min<double>(omp_get_max_threads(),
                                                       flops / (kParallelFlops / 2)));
#endif
    if (nt <= 1) {
        gemm_range(o, 0, M, 0, N);
        return;
    }
#ifdef _OPENMP
    std::atomic<bool> out_of_memory{false};  // an exception must not leave the parallel region
#pragma omp parallel num_threads(nt)
    {
        int64_t i0, i1, j0, j1;
        split(M, N, omp_get_num_threads(), omp_get_thread_num(), i0, i1, j0, j1);
        try {
            gemm_range(o, i0, i1, j0, j1);
        } catch (const std::bad_alloc&) {
            out_of_memory = true;
        }
    }
    if (out_of_memory) throw std::bad_alloc();
#endif
}

}  // namespace fastnn

static py::array gemm_py(py::array a, py::array b, py::object bias, py::object activation,
                         bool trans_a, bool trans_b, double alpha, double beta, py::object out) {
    using namespace fastnn;
    check_f32(a, "a", 2);
    check_f32(b, "b", 2);
    const int64_t M = trans_a ? a.shape(1) : a.shape(0), K = trans_a ? a.shape(0) : a.shape(1);
    const int64_t Kb = trans_b ? b.shape(1) : b.shape(0), N = trans_b ? b.shape(0) : b.shape(1);
    if (K != Kb)
        throw py::value_error("b: inner dimensions do not match: op(a) is " + std::to_string(M) +
                              "x" + std::to_string(K) + ", op(b) is " + std::to_string(Kb) + "x" +
                              std::to_string(N));
    if (!bias.is_none() && !py::isinstance<py::array>(bias))
        throw py::type_error("bias: expected a float32 array or None");
    const float* bias_p = opt_ptr(bias, "bias", N);
    Act act = Act::None;
    if (!activation.is_none()) {
        if (!py::isinstance<py::str>(activation))
            throw py::type_error("activation: expected None or a string, got " +
                                 std::string(py::str(py::type::of(activation))));
        act = parse_activation(activation.cast<std::string>());
    }
    py::array c;
    if (out.is_none()) {
        c = empty_f32({M, N});
        beta = 0.0;
    } else {
        if (!py::isinstance<py::array>(out))
            throw py::type_error("out: expected a float32 array or None");
        c = py::reinterpret_borrow<py::array>(out);
        check_f32(c, "out", 2);
        check_writable(c, "out");
        check_dim(c, "out", 0, M);
        check_dim(c, "out", 1, N);
    }
    const float* A = fptr(a);
    const float* B = fptr(b);
    float* C = fptr_mut(c);
    {
        py::gil_scoped_release nogil;
        sgemm(trans_a, trans_b, M, N, K, (float)alpha, A, a.shape(1), B, b.shape(1), (float)beta,
              C, N, bias_p, act);
    }
    return c;
}

void register_gemm(py::module_& m) {
    m.def("gemm", &gemm_py, py::arg("a"), py::arg("b"), py::arg("bias") = py::none(),
          py::arg("activation") = py::none(), py::arg("trans_a") = false,
          py::arg("trans_b") = false, py::arg("alpha") = 1.0, py::arg("beta") = 0.0,
          py::arg("out") = py::none(),
          "out = act(alpha * op(a) @ op(b) + beta * out + bias); float32, C-contiguous.");
}
