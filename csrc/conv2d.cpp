// conv2d, float32, NCHW: forward (fused bias + ReLU), backward_input, backward_weight (+bias).
//
// Version 1: implicit GEMM on packed im2col tiles, lowered to fastnn::sgemm (csrc/gemm.h).
//   The output pixels of one image and group are cut into tiles of PT columns; a tile's
//   (Cg*KH*KW) x PT column block is packed into a per-thread buffer that stays in L2 (never a
//   full im2col matrix), and one sgemm call per tile computes Y_tile = W_g . col_tile straight into
//   the NCHW output (ldc = OH*OW). 1x1 stride-1 unpadded convolutions skip the packing (x is the
//   column matrix). Work items (image, group, tile) are spread over OpenMP threads, each calling
//   sgemm with parallel=false.
//   backward_input: dcol_tile = W_g^T . dY_tile, then col2im scatter-adds it into dX; items are
//   (image, group) so no two threads write the same dX plane.
//   backward_weight: dW_g += dY_tile . col_tile^T (sgemm trans_b, beta=1) into per-thread partial
//   sums, reduced at the end; bias gradient is a per-channel sum.
// Version 2 (conv2d_forward_packed): GEMM's 6x64 register tile (gemm_simd.h) driven by conv
//   packing, each operand packed once: weights into MR-row panels once per call, im2col columns
//   straight into NR-column panels per tile (no second packing inside sgemm); tiles run over the
//   N*OH*OW pixels of the whole batch so 12x12 images still fill whole panels. Stride-1
//   backward_input runs as this forward on dY with transposed, flipped weights.
//   conv2d_backward_weight_packed (the same idea, reduction over pixels) is kept selectable but
//   not used: its transposed gather is scalar and it measured no faster than version 1.
// Which runs (auto; FASTNN_CONV_IMPL=sgemm|packed forces one): forward v2 on AVX-512, v1 on AVX2
//   and baseline (see kForwardPacked); backward_input v2 when
//   stride 1 and >= 48 input channels per group, else v1; backward_weight v1.
// Measured (python benchmarks/conv_tuning.py --threads 1 --clock cpu, one Zen 4 core of a loaded
//   machine; single-core FMA roof ~116 GFLOP/s), v1 -> auto, GFLOP/s:
//     forward   RN64 71 -> 87, RN128 72 -> 91, RN256 65 -> 94, CNN2 63 -> 68, CNN1 38 -> 43
//     bwd input RN64 72 -> 87, RN128 73 -> 85, RN256 69 -> 91 (CNN layers: v1)
//   PyTorch (oneDNN) on the same core: forward 100-117 on CNN2/RN128/RN256, 66 on RN64.
//   Ratio to PyTorch, forward / backward (same command, 20:00 UTC): CNN1 4.25 / 1.36,
//   CNN2 0.66 / 0.71, RN64 1.31 / 1.00, RN128 0.84 / 1.00, RN256 0.79 / 0.83.
// Max pooling (max_pool2d_forward/backward): one pass per (n, c) plane, OpenMP over planes; the
//   all-inside windows run branch-free with the kernel size a template constant for 2x2 and 3x3
//   (a runtime-size loop mispredicted a branch per tap: 8.6 ms -> 0.6 ms for 2x2 over
//   64x32x24x24 standalone).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <cstring>
#include <new>
#include <vector>

#include "common.h"
#include "gemm.h"
#include "gemm_simd.h"

namespace fastnn {
namespace {

struct ConvGeom {
    int64_t N, C, H, W;      // input
    int64_t OC, KH, KW;      // weight (OC, C/groups, KH, KW)
    int64_t OH, OW;          // output
    int64_t sh, sw, ph, pw, dh, dw, groups;
    int64_t Cg() const { return C / groups; }
    int64_t OCg() const { return OC / groups; }
    int64_t K() const { return Cg() * KH * KW; }
    int64_t P() const { return OH * OW; }
    bool pointwise() const {
        return KH == 1 && KW == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0;
    }
};

// Output-column range [lo, hi) of kernel column j whose input column lies inside [0, W).
inline void valid_range(int64_t j, int64_t s, int64_t p, int64_t d, int64_t W, int64_t OW,
                        int64_t* lo, int64_t* hi) {
    // iw = ow*s - p + j*d must satisfy 0 <= iw < W.
    const int64_t off = p - j * d;  // ow*s >= off  and  ow*s < W + off
    int64_t l = off <= 0 ? 0 : (off + s - 1) / s;
    int64_t h = (W + off) <= 0 ? 0 : (W + off + s - 1) / s;
    *lo = std::min(l, OW);
    *hi = std::max(std::min(h, OW), *lo);
}

// Packs columns [p0, p0+pt) of the im2col matrix of one image-group (xg: Cg planes of H*W) into
// col (K rows of ldcol floats).
void im2col_tile(const ConvGeom& g, const float* xg, int64_t p0, int64_t pt, float* col,
                 int64_t ldcol) {
    const int64_t HW = g.H * g.W;
    for (int64_t c = 0; c < g.Cg(); ++c) {
        const float* xc = xg + c * HW;
        for (int64_t i = 0; i < g.KH; ++i) {
            for (int64_t j = 0; j < g.KW; ++j) {
                float* dst = col + ((c * g.KH + i) * g.KW + j) * ldcol;
                int64_t lo, hi;
                valid_range(j, g.sw, g.pw, g.dw, g.W, g.OW, &lo, &hi);
                int64_t p = p0;
                const int64_t pend = p0 + pt;
                while (p < pend) {
                    const int64_t oh = p / g.OW, ow0 = p % g.OW;
                    const int64_t ow1 = std::min(g.OW, ow0 + (pend - p));
                    float* d = dst + (p - p0);
                    const int64_t ih = oh * g.sh - g.ph + i * g.dh;
                    if (ih < 0 || ih >= g.H) {
                        std::fill(d, d + (ow1 - ow0), 0.f);
                    } else {
                        const float* src = xc + ih * g.W - g.pw + j * g.dw;
                        const int64_t a = std::max(ow0, std::min(lo, ow1));
                        const int64_t b = std::max(a, std::min(hi, ow1));
                        for (int64_t ow = ow0; ow < a; ++ow) d[ow - ow0] = 0.f;
                        if (g.sw == 1) {
                            std::memcpy(d + (a - ow0), src + a, sizeof(float) * (b - a));
                        } else {
                            for (int64_t ow = a; ow < b; ++ow) d[ow - ow0] = src[ow * g.sw];
                        }
                        for (int64_t ow = b; ow < ow1; ++ow) d[ow - ow0] = 0.f;
                    }
                    p += ow1 - ow0;
                }
            }
        }
    }
}

// The adjoint of im2col_tile: adds the tile's columns back into dxg (Cg planes of H*W).
void col2im_tile(const ConvGeom& g, const float* col, int64_t ldcol, int64_t p0, int64_t pt,
                 float* dxg) {
    const int64_t HW = g.H * g.W;
    for (int64_t c = 0; c < g.Cg(); ++c) {
        float* dxc = dxg + c * HW;
        for (int64_t i = 0; i < g.KH; ++i) {
            for (int64_t j = 0; j < g.KW; ++j) {
                const float* srcrow = col + ((c * g.KH + i) * g.KW + j) * ldcol;
                int64_t lo, hi;
                valid_range(j, g.sw, g.pw, g.dw, g.W, g.OW, &lo, &hi);
                int64_t p = p0;
                const int64_t pend = p0 + pt;
                while (p < pend) {
                    const int64_t oh = p / g.OW, ow0 = p % g.OW;
                    const int64_t ow1 = std::min(g.OW, ow0 + (pend - p));
                    const int64_t ih = oh * g.sh - g.ph + i * g.dh;
                    if (ih >= 0 && ih < g.H) {
                        const float* s = srcrow + (p - p0) - ow0;
                        float* dst = dxc + ih * g.W - g.pw + j * g.dw;
                        const int64_t a = std::max(ow0, std::min(lo, ow1));
                        const int64_t b = std::max(a, std::min(hi, ow1));
                        if (g.sw == 1) {
                            for (int64_t ow = a; ow < b; ++ow) dst[ow] += s[ow];
                        } else {
                            for (int64_t ow = a; ow < b; ++ow) dst[ow * g.sw] += s[ow];
                        }
                    }
                    p += ow1 - ow0;
                }
            }
        }
    }
}

// Columns per tile: the packed tile (K x PT floats) should sit in L2 next to sgemm's own panels.
int64_t tile_cols(const ConvGeom& g) {
    const int64_t budget = 48 * 1024;  // floats (192 KiB)
    int64_t pt = budget / std::max<int64_t>(1, g.K());
    pt = std::max<int64_t>(64, (pt / 16) * 16);
    return std::min(pt, std::max<int64_t>(1, g.P()));
}

void bias_act(float* y, int64_t rows, int64_t cols, int64_t ld, const float* bias, int64_t oc0,
              bool relu) {
    for (int64_t r = 0; r < rows; ++r) {
        float* yr = y + r * ld;
        const float b = bias ? bias[oc0 + r] : 0.f;
        if (relu) {
            for (int64_t q = 0; q < cols; ++q) yr[q] = std::max(yr[q] + b, 0.f);
        } else if (bias) {
            for (int64_t q = 0; q < cols; ++q) yr[q] += b;
        }
    }
}


// ------------------------------------------------------------- packed implicit GEMM (version 2)
//
// The same register-blocked micro-tile as csrc/gemm.cpp (simd::MR x simd::NR: 6x64 on AVX-512,
// 6x16 on AVX2, 6x8 baseline; 24 zmm accumulators), fed by conv-specific packing so each operand
// is packed exactly once: the weights once per call into MR-row panels (K x MR), the im2col
// columns once per tile straight into NR-column panels (K x NR) -- no im2col matrix, no second
// packing inside sgemm. Output columns are the N*OH*OW pixels of the whole batch, so small images
// (12x12) still fill whole panels; runs of consecutive pixels of one image row are the unit of
// both the gather and the epilogue scatter.

using simd::MR;
using simd::NR;
using simd::NV;
using simd::W;
using simd::vf;

struct Buf {  // 64-byte aligned scratch
    float* p = nullptr;
    explicit Buf(size_t n) {
        size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
        p = static_cast<float*>(std::aligned_alloc(64, bytes ? bytes : 64));
        if (!p) throw std::bad_alloc();
    }
    ~Buf() { std::free(p); }
    Buf(const Buf&) = delete;
    Buf& operator=(const Buf&) = delete;
};

// c[MR x NR] (= or +=) a-panel (kc x MR) . b-panel (kc x NR).
template <bool ACCUM>
inline void micro_tile(int64_t kc, const float* __restrict a, const float* __restrict b,
                       float* __restrict c, int64_t ldc) {
    vf acc[MR][NV];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v)
            acc[r][v] = ACCUM ? simd::loadu(c + r * ldc + v * W) : simd::zero();
#pragma GCC unroll 2
    for (int64_t p = 0; p < kc; ++p) {
        vf bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) bv[v] = simd::load(b + v * W);
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
            const vf av = simd::set1(a[r]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[r][v] = simd::fmadd(av, bv[v], acc[r][v]);
        }
        a += MR;
        b += NR;
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) simd::storeu(c + r * ldc + v * W, acc[r][v]);
}

// A run of `len` consecutive output pixels of one image row: columns q..q+len of a tile.
struct Run {
    int64_t q, n, oh, ow, len;
};

// Splits the tile's columns [col0, col0+ncols) (over N*OH*OW) into runs that stay inside one
// image row and one NR panel.
void make_runs(const ConvGeom& g, int64_t col0, int64_t ncols, std::vector<Run>& runs) {
    runs.clear();
    const int64_t P = g.P();
    int64_t q = 0;
    while (q < ncols) {
        const int64_t col = col0 + q, n = col / P, rem = col % P;
        const int64_t oh = rem / g.OW, ow = rem % g.OW;
        const int64_t len = std::min({g.OW - ow, ncols - q, NR - q % NR});
        runs.push_back({q, n, oh, ow, len});
        q += len;
    }
}

// dst[t * dstride] = padded input x[n, c, ih, (ow+t)*sw - pw + j*dw] for t < len.
inline void gather_row(const ConvGeom& g, const float* xc, int64_t ih, int64_t j, int64_t ow,
                       int64_t len, int64_t lo, int64_t hi, float* dst, int64_t dstride) {
    if (ih < 0 || ih >= g.H) {
        for (int64_t t = 0; t < len; ++t) dst[t * dstride] = 0.f;
        return;
    }
    const float* src = xc + ih * g.W - g.pw + j * g.dw;  // src[ow * sw] is the tap's input
    const int64_t a = std::max(ow, std::min(lo, ow + len)), b = std::max(a, std::min(hi, ow + len));
    for (int64_t o = ow; o < a; ++o) dst[(o - ow) * dstride] = 0.f;
    if (g.sw == 1 && dstride == 1) {
        std::memcpy(dst + (a - ow), src + a, sizeof(float) * (b - a));
    } else {
        for (int64_t o = a; o < b; ++o) dst[(o - ow) * dstride] = src[o * g.sw];
    }
    for (int64_t o = b; o < ow + len; ++o) dst[(o - ow) * dstride] = 0.f;
}

// Weights of group grp -> MR-row panels: ap[(ip*K + k)*MR + r] = w[grp*OCg + ip*MR + r, k].
void pack_weights(const ConvGeom& g, const float* w, int64_t grp, float* ap) {
    const int64_t K = g.K(), OCg = g.OCg(), np = (OCg + MR - 1) / MR;
    for (int64_t ip = 0; ip < np; ++ip)
        for (int r = 0; r < MR; ++r) {
            const int64_t oc = ip * MR + r;
            float* d = ap + ip * K * MR + r;
            if (oc < OCg) {
                const float* s = w + (grp * OCg + oc) * K;
                for (int64_t k = 0; k < K; ++k) d[k * MR] = s[k];
            } else {
                for (int64_t k = 0; k < K; ++k) d[k * MR] = 0.f;
            }
        }
}

// im2col columns of a tile -> NR-column panels bp[(jb*K + k)*NR + l] (forward operand B).
void pack_columns(const ConvGeom& g, const float* x, int64_t grp, const std::vector<Run>& runs,
                  int64_t ncols, float* bp) {
    const int64_t K = g.K(), HW = g.H * g.W;
    const int64_t tail = ncols % NR, last = ncols / NR;
    for (int64_t k = 0; k < K; ++k) {
        const int64_t c = k / (g.KH * g.KW), i = (k / g.KW) % g.KH, j = k % g.KW;
        int64_t lo, hi;
        valid_range(j, g.sw, g.pw, g.dw, g.W, g.OW, &lo, &hi);
        for (const Run& r : runs) {
            const float* xc = x + (r.n * g.C + grp * g.Cg() + c) * HW;
            float* dst = bp + ((r.q / NR) * K + k) * NR + r.q % NR;
            gather_row(g, xc, r.oh * g.sh - g.ph + i * g.dh, j, r.ow, r.len, lo, hi, dst, 1);
        }
        if (tail) std::fill(bp + (last * K + k) * NR + tail, bp + (last * K + k + 1) * NR, 0.f);
    }
}

int64_t forward_tile_cols(const ConvGeom& g) {
    const int64_t panels = std::max<int64_t>(1, std::min<int64_t>(8, 98304 / (g.K() * NR)));
    return panels * NR;
}

void conv2d_forward_packed(const ConvGeom& g, const float* x, const float* w, const float* bias,
                           bool relu, float* y) {
    const int64_t K = g.K(), P = g.P(), OCg = g.OCg(), G = g.groups, L = g.N * P;
    const int64_t np = (OCg + MR - 1) / MR;
    Buf apack((size_t)(G * np * K * MR));
    for (int64_t grp = 0; grp < G; ++grp) pack_weights(g, w, grp, apack.p + grp * np * K * MR);
    const int64_t PT = forward_tile_cols(g), ntiles = (L + PT - 1) / PT;
    const int64_t items = G * ntiles;
#pragma omp parallel if (items > 1 && (double)L * OCg * K * G > 1e6)
    {
        Buf bpack((size_t)(PT * K));
        alignas(64) float ct[MR * NR];
        std::vector<Run> runs;
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; ++it) {
            const int64_t grp = it / ntiles, col0 = (it % ntiles) * PT;
            const int64_t ncols = std::min(PT, L - col0);
            make_runs(g, col0, ncols, runs);
            pack_columns(g, x, grp, runs, ncols, bpack.p);
            const float* ag = apack.p + grp * np * K * MR;
            size_t r0 = 0;
            for (int64_t jb = 0; jb * NR < ncols; ++jb) {
                size_t r1 = r0;
                while (r1 < runs.size() && runs[r1].q < (jb + 1) * NR) ++r1;
                for (int64_t ip = 0; ip < np; ++ip) {
                    micro_tile<false>(K, ag + ip * K * MR, bpack.p + jb * K * NR, ct, NR);
                    const int rows = (int)std::min<int64_t>(MR, OCg - ip * MR);
                    for (int rr = 0; rr < rows; ++rr) {
                        const int64_t oc = grp * OCg + ip * MR + rr;
                        const float b = bias ? bias[oc] : 0.f;
                        const float* src = ct + rr * NR - jb * NR;
                        for (size_t q = r0; q < r1; ++q) {
                            const Run& r = runs[q];
                            float* dst = y + (r.n * g.OC + oc) * P + r.oh * g.OW + r.ow;
                            const float* s = src + r.q;
                            if (relu) {
                                for (int64_t t = 0; t < r.len; ++t) dst[t] = std::max(s[t] + b, 0.f);
                            } else {
                                for (int64_t t = 0; t < r.len; ++t) dst[t] = s[t] + b;
                            }
                        }
                    }
                }
                r0 = r1;
            }
        }
    }
}

// Backward weight: dW_g (OCg x K) += dY_tile (OCg x cols) . im2col_tile^T (cols x K), with the
// tile's pixels as the reduction: dY packed into MR-row panels (cols x MR), the im2col tile
// transposed into NR-column panels over K (cols x NR); per-thread padded partial sums.
void conv2d_backward_weight_packed(const ConvGeom& g, const float* x, const float* dy, float* dw) {
    const int64_t K = g.K(), P = g.P(), OCg = g.OCg(), G = g.groups, L = g.N * P, HW = g.H * g.W;
    const int64_t np = (OCg + MR - 1) / MR, OCp = np * MR;
    const int64_t nkb = (K + NR - 1) / NR, Kp = nkb * NR;
    int64_t PT = std::max<int64_t>(16, std::min<int64_t>(1024, 98304 / Kp));
    PT = (PT / 16) * 16;
    const int64_t ntiles = (L + PT - 1) / PT, items = G * ntiles;
    const int nthreads = (int)std::max<int64_t>(1, std::min<int64_t>(max_threads(), items));
    const int64_t psize = G * OCp * Kp;
    Buf partial((size_t)(nthreads * psize));
#pragma omp parallel num_threads(nthreads)
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num();
#else
        const int tid = 0;
#endif
        float* acc = partial.p + (int64_t)tid * psize;
        std::fill(acc, acc + psize, 0.f);
        Buf apack((size_t)(np * PT * MR)), bpack((size_t)(nkb * PT * NR));
        std::vector<Run> runs;
#pragma omp for schedule(static)
        for (int64_t it = 0; it < items; ++it) {
            const int64_t grp = it / ntiles, col0 = (it % ntiles) * PT;
            const int64_t ncols = std::min(PT, L - col0);
            make_runs(g, col0, ncols, runs);
            for (int64_t ip = 0; ip < np; ++ip)  // dY rows -> ap[(ip*PT + q)*MR + r]
                for (int rr = 0; rr < MR; ++rr) {
                    const int64_t oc = ip * MR + rr;
                    float* d = apack.p + ip * PT * MR + rr;
                    for (const Run& r : runs) {
                        if (oc < OCg) {
                            const float* s = dy + (r.n * g.OC + grp * OCg + oc) * P + r.oh * g.OW + r.ow;
                            for (int64_t t = 0; t < r.len; ++t) d[(r.q + t) * MR] = s[t];
                        } else {
                            for (int64_t t = 0; t < r.len; ++t) d[(r.q + t) * MR] = 0.f;
                        }
                    }
                }
            for (int64_t k = 0; k < Kp; ++k) {  // im2col^T -> bp[(kb*PT + q)*NR + l]
                float* d = bpack.p + (k / NR) * PT * NR + k % NR;
                if (k >= K) {
                    for (int64_t q = 0; q < ncols; ++q) d[q * NR] = 0.f;
                    continue;
                }
                const int64_t c = k / (g.KH * g.KW), i = (k / g.KW) % g.KH, j = k % g.KW;
                int64_t lo, hi;
                valid_range(j, g.sw, g.pw, g.dw, g.W, g.OW, &lo, &hi);
                for (const Run& r : runs) {
                    const float* xc = x + (r.n * g.C + grp * g.Cg() + c) * HW;
                    gather_row(g, xc, r.oh * g.sh - g.ph + i * g.dh, j, r.ow, r.len, lo, hi,
                               d + r.q * NR, NR);
                }
            }
            float* ag = acc + grp * OCp * Kp;
            for (int64_t ip = 0; ip < np; ++ip)
                for (int64_t kb = 0; kb < nkb; ++kb)
                    micro_tile<true>(ncols, apack.p + ip * PT * MR, bpack.p + kb * PT * NR,
                                     ag + ip * MR * Kp + kb * NR, Kp);
        }
    }
    // reduce the partial sums (and drop the padding) in parallel over output rows
#pragma omp parallel for schedule(static) if (G * OCg * K > 65536)
    for (int64_t row = 0; row < G * OCg; ++row) {
        const int64_t grp = row / OCg, oc = row % OCg;
        float* d = dw + row * K;
        const float* s0 = partial.p + (grp * OCp + oc) * Kp;
        for (int64_t k = 0; k < K; ++k) d[k] = s0[k];
        for (int t = 1; t < nthreads; ++t) {
            const float* s = s0 + (int64_t)t * psize;
            for (int64_t k = 0; k < K; ++k) d[k] += s[k];
        }
    }
}

}  // namespace

// Which lowering runs: FASTNN_CONV_IMPL=sgemm (version 1 everywhere), =packed (version 2
// everywhere it applies), unset/auto: the measured best per kernel (see the header comment).
enum class Impl { Auto, Sgemm, Packed };
// Auto forward: version 2 where it measured faster (AVX-512 on Zen 4, header); elsewhere
// version 1 on the sgemm, whose AVX2 blocking is L2-sized (2026-12-01, Zen 3, 2 threads,
// `FASTNN_CONV_IMPL=packed|sgemm python -m fastnn bench conv2d --backend cpp --sizes quick`,
// forward vs PyTorch: CNN1 0.56x -> 0.88x, CNN2 0.76x -> 1.10x, RN64 0.82x -> 0.83x,
// RN256 1.10x -> 1.06x; backward_input keeps version 2 at >= 48 channels: RN64/RN256 backward
// 1.07x/1.02x with it, 0.98x/0.91x on version 1).
#if defined(__AVX512F__)
constexpr bool kForwardPacked = true;
#else
constexpr bool kForwardPacked = false;
#endif
Impl conv_impl() {
    static const Impl v = [] {
        const char* e = std::getenv("FASTNN_CONV_IMPL");
        const std::string s = e ? e : "";
        return s == "sgemm" ? Impl::Sgemm : s == "packed" ? Impl::Packed : Impl::Auto;
    }();
    return v;
}

void conv2d_forward_sgemm(const ConvGeom& g, const float* x, const float* w, const float* bias,
                          bool relu, float* y) {
    const int64_t K = g.K(), P = g.P(), OCg = g.OCg(), G = g.groups;
    const bool direct = g.pointwise();
    const int64_t PT = tile_cols(g);
    const int64_t ntiles = (P + PT - 1) / PT;
    const int64_t items = g.N * G * ntiles;
#pragma omp parallel
    {
        std::vector<float> col(direct ? 0 : K * PT);
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; ++it) {
            const int64_t t = it % ntiles, ng = it / ntiles, grp = ng % G, n = ng / G;
            const int64_t p0 = t * PT, pt = std::min(PT, P - p0);
            const float* xg = x + (n * g.C + grp * g.Cg()) * g.H * g.W;
            const float* wg = w + grp * OCg * K;
            float* yt = y + (n * g.OC + grp * OCg) * P + p0;
            const float* B;
            int64_t ldb;
            if (direct) {
                B = xg + p0;
                ldb = P;
            } else {
                im2col_tile(g, xg, p0, pt, col.data(), PT);
                B = col.data();
                ldb = PT;
            }
            sgemm(false, false, OCg, pt, K, 1.f, wg, K, B, ldb, 0.f, yt, P, nullptr, Act::None,
                  false);
            if (bias || relu) bias_act(yt, OCg, pt, P, bias, grp * OCg, relu);
        }
    }
}

void conv2d_forward_f32(const ConvGeom& g, const float* x, const float* w, const float* bias,
                        bool relu, float* y) {
    const int64_t K = g.K(), P = g.P(), OCg = g.OCg();
    if (g.N == 0 || OCg == 0 || P == 0) return;
    if (K == 0) {  // no input channels: the output is the bias alone
        for (int64_t n = 0; n < g.N; ++n)
            for (int64_t oc = 0; oc < g.OC; ++oc) {
                float v = bias ? bias[oc] : 0.f;
                if (relu) v = std::max(v, 0.f);
                std::fill(y + (n * g.OC + oc) * P, y + (n * g.OC + oc + 1) * P, v);
            }
        return;
    }
    if (conv_impl() == Impl::Sgemm || (conv_impl() == Impl::Auto && !kForwardPacked))
        conv2d_forward_sgemm(g, x, w, bias, relu, y);
    else
        conv2d_forward_packed(g, x, w, bias, relu, y);
}

// Stride-1 backward_input is itself a forward convolution: of dY, zero-padded by
// d*(k-1) - p, with each group's weights transposed (C <-> OC) and flipped in both taps.
bool backward_input_as_forward(const ConvGeom& g, const float* dy, const float* w, float* dx) {
    if (g.sh != 1 || g.sw != 1 || g.ph > g.dh * (g.KH - 1) || g.pw > g.dw * (g.KW - 1))
        return false;
    // Few input channels leave the MR-row panels of the transposed problem mostly empty.
    if (conv_impl() == Impl::Sgemm || (conv_impl() == Impl::Auto && g.Cg() < 48)) return false;
    ConvGeom t = g;
    t.C = g.OC, t.H = g.OH, t.W = g.OW;
    t.OC = g.C, t.OH = g.H, t.OW = g.W;
    t.ph = g.dh * (g.KH - 1) - g.ph, t.pw = g.dw * (g.KW - 1) - g.pw;
    const int64_t Cg = g.Cg(), OCg = g.OCg(), KK = g.KH * g.KW;
    std::vector<float> wt((size_t)(g.C * OCg * KK));
    for (int64_t grp = 0; grp < g.groups; ++grp)
        for (int64_t c = 0; c < Cg; ++c)
            for (int64_t oc = 0; oc < OCg; ++oc) {
                const float* s = w + ((grp * OCg + oc) * Cg + c) * KK;
                float* d = wt.data() + ((grp * Cg + c) * OCg + oc) * KK;
                for (int64_t k = 0; k < KK; ++k) d[k] = s[KK - 1 - k];
            }
    conv2d_forward_packed(t, dy, wt.data(), nullptr, false, dx);
    return true;
}

void conv2d_backward_input_f32(const ConvGeom& g, const float* dy, const float* w, float* dx) {
    const int64_t K = g.K(), P = g.P(), OCg = g.OCg(), G = g.groups;
    const int64_t HW = g.H * g.W;
    if (g.N > 0 && g.C > 0 && OCg > 0 && P > 0 && backward_input_as_forward(g, dy, w, dx)) return;
    std::fill(dx, dx + g.N * g.C * HW, 0.f);
    if (g.N == 0 || OCg == 0 || P == 0 || K == 0) return;
    const bool direct = g.pointwise();
    const int64_t PT = tile_cols(g);
    const int64_t ntiles = (P + PT - 1) / PT;
    const int64_t items = g.N * G;
    // With fewer images x groups than threads, parallelise inside sgemm instead.
    const bool outer = items >= max_threads();
#pragma omp parallel if (outer)
    {
        std::vector<float> col(direct ? 0 : K * PT);
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; ++it) {
            const int64_t grp = it % G, n = it / G;
            const float* dyg = dy + (n * g.OC + grp * OCg) * P;
            const float* wg = w + grp * OCg * K;
            float* dxg = dx + (n * g.C + grp * g.Cg()) * HW;
            if (direct) {  // dX_g (Cg x HW) = W_g^T (Cg x OCg) . dY_g (OCg x HW)
                sgemm(true, false, K, P, OCg, 1.f, wg, K, dyg, P, 0.f, dxg, P, nullptr,
                      Act::None, !outer);
                continue;
            }
            for (int64_t t = 0; t < ntiles; ++t) {
                const int64_t p0 = t * PT, pt = std::min(PT, P - p0);
                sgemm(true, false, K, pt, OCg, 1.f, wg, K, dyg + p0, P, 0.f, col.data(), PT,
                      nullptr, Act::None, !outer);
                col2im_tile(g, col.data(), PT, p0, pt, dxg);
            }
        }
    }
}

void conv2d_backward_weight_f32(const ConvGeom& g, const float* x, const float* dy, float* dw,
                                float* db) {
    const int64_t K = g.K(), P = g.P(), OCg = g.OCg(), G = g.groups;
    const int64_t wsize = g.OC * K;
    std::fill(dw, dw + wsize, 0.f);
    if (db) {
#pragma omp parallel for schedule(static) if (g.N * g.OC * P > 65536)
        for (int64_t oc = 0; oc < g.OC; ++oc) {
            double s = 0.0;
            for (int64_t n = 0; n < g.N; ++n) {
                const float* r = dy + (n * g.OC + oc) * P;
                float acc = 0.f;
                for (int64_t p = 0; p < P; ++p) acc += r[p];
                s += acc;
            }
            db[oc] = (float)s;
        }
    }
    if (g.N == 0 || OCg == 0 || P == 0 || K == 0) return;
    // The packed version's transposed im2col gather is scalar and costs more than it saves
    // (measured slower or equal on every benchmark layer), so auto keeps version 1 here.
    if (conv_impl() == Impl::Packed) {
        conv2d_backward_weight_packed(g, x, dy, dw);
        return;
    }
    const bool direct = g.pointwise();
    const int64_t PT = tile_cols(g);
    const int64_t ntiles = (P + PT - 1) / PT;
    const int64_t items = g.N * G * ntiles;
    const int nthreads = (int)std::max<int64_t>(1, std::min<int64_t>(max_threads(), items));
    // Thread 0 accumulates straight into dw; the others into partial sums reduced below.
    std::vector<float> partial((size_t)(nthreads - 1) * wsize, 0.f);
#pragma omp parallel num_threads(nthreads)
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num();
#else
        const int tid = 0;
#endif
        float* acc = tid == 0 ? dw : partial.data() + (int64_t)(tid - 1) * wsize;
        std::vector<float> col(direct ? 0 : K * PT);
        // Static blocks of consecutive items: one thread mostly stays on one group's dW block.
#pragma omp for schedule(static)
        for (int64_t it = 0; it < items; ++it) {
            const int64_t t = it % ntiles, ng = it / ntiles, grp = ng % G, n = ng / G;
            const int64_t p0 = t * PT, pt = std::min(PT, P - p0);
            const float* xg = x + (n * g.C + grp * g.Cg()) * g.H * g.W;
            const float* dyt = dy + (n * g.OC + grp * OCg) * P + p0;
            const float* B;
            int64_t ldb;
            if (direct) {
                B = xg + p0;
                ldb = P;
            } else {
                im2col_tile(g, xg, p0, pt, col.data(), PT);
                B = col.data();
                ldb = PT;
            }
            // dW_g (OCg x K) += dY_tile (OCg x pt) . col_tile^T (pt x K)
            sgemm(false, true, OCg, K, pt, 1.f, dyt, P, B, ldb, 1.f, acc + grp * OCg * K, K,
                  nullptr, Act::None, false);
        }
    }
    for (int t = 1; t < nthreads; ++t) {
        const float* src = partial.data() + (int64_t)(t - 1) * wsize;
        for (int64_t i = 0; i < wsize; ++i) dw[i] += src[i];
    }
}

// Max pooling, one pass per (n, c) plane; PyTorch's rule: a window starts from its first
// in-bounds tap, a later tap wins when strictly greater or NaN.
struct PoolGeom {
    int64_t planes, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw;
};

// Windows of one output row whose taps are all inside the input: branch-free selects with the
// kernel size known at compile time for 2x2 and 3x3 (KH = KW = 0: runtime size), so the loop
// over outputs vectorises instead of mispredicting a branch per tap on random data.
template <int KH, int KW>
void max_pool_interior(const PoolGeom& g, const float* row0, int64_t lo, int64_t hi, float* yr,
                       int32_t* ar) {
    const int64_t kh = KH ? KH : g.kh, kw = KW ? KW : g.kw;
    const int64_t sw = g.sw, rstep = g.dh * g.W, cstep = g.dw;
    for (int64_t ow = lo; ow < hi; ++ow) {
        const float* s = row0 + ow * sw;
        float best = s[0];
        int32_t bt = 0;
        for (int64_t i = 0; i < kh; ++i)
            for (int64_t j = 0; j < kw; ++j) {
                const float v = s[i * rstep + j * cstep];
                const bool upd = (v > best) | (v != v);
                best = upd ? v : best;
                bt = upd ? (int32_t)(i * kw + j) : bt;
            }
        yr[ow] = best;
        ar[ow] = bt;
    }
}

void max_pool2d_forward_f32(const PoolGeom& g, const float* x, float* y, int32_t* arg) {
#pragma omp parallel for schedule(static) if (g.planes * g.OH * g.OW > 32768)
    for (int64_t pl = 0; pl < g.planes; ++pl) {
        const float* xp = x + pl * g.H * g.W;
        float* yp = y + pl * g.OH * g.OW;
        int32_t* ap = arg + pl * g.OH * g.OW;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
            // interior columns [lo, hi): every tap of the window is inside the row, so a
            // branch-free pass over them (selects, no bounds checks) vectorises
            const int64_t ih0 = oh * g.sh - g.ph, ih1 = ih0 + (g.kh - 1) * g.dh;
            int64_t lo = g.OW, hi = g.OW;
            if (ih0 >= 0 && ih1 < g.H) {
                lo = std::min(g.OW, (g.pw + g.sw - 1) / g.sw);
                const int64_t span = g.W - 1 + g.pw - (g.kw - 1) * g.dw;  // ow*sw <= span
                hi = span < 0 ? lo : std::max(lo, std::min(g.OW, span / g.sw + 1));
                const float* row0 = xp + ih0 * g.W - g.pw;
                float* yr = yp + oh * g.OW;
                int32_t* ar = ap + oh * g.OW;
                if (g.kh == 2 && g.kw == 2)
                    max_pool_interior<2, 2>(g, row0, lo, hi, yr, ar);
                else if (g.kh == 3 && g.kw == 3)
                    max_pool_interior<3, 3>(g, row0, lo, hi, yr, ar);
                else
                    max_pool_interior<0, 0>(g, row0, lo, hi, yr, ar);
            }
            for (int64_t ow = 0; ow < g.OW; ++ow) {
                if (ow == lo) ow = hi;
                if (ow >= g.OW) break;
                float best = -std::numeric_limits<float>::infinity();
                int32_t bt = -1;
                for (int64_t i = 0; i < g.kh; ++i) {
                    const int64_t ih = oh * g.sh - g.ph + i * g.dh;
                    if (ih < 0 || ih >= g.H) continue;
                    for (int64_t j = 0; j < g.kw; ++j) {
                        const int64_t iw = ow * g.sw - g.pw + j * g.dw;
                        if (iw < 0 || iw >= g.W) continue;
                        const float v = xp[ih * g.W + iw];
                        if (bt < 0 || v > best || std::isnan(v)) {
                            best = v;
                            bt = (int32_t)(i * g.kw + j);
                        }
                    }
                }
                yp[oh * g.OW + ow] = best;
                ap[oh * g.OW + ow] = bt < 0 ? 0 : bt;
            }
        }
    }
}

void max_pool2d_backward_f32(const PoolGeom& g, const float* dy, const int32_t* arg, float* dx) {
#pragma omp parallel for schedule(static) if (g.planes * g.H * g.W > 32768)
    for (int64_t pl = 0; pl < g.planes; ++pl) {
        float* dp = dx + pl * g.H * g.W;
        const float* gp = dy + pl * g.OH * g.OW;
        const int32_t* ap = arg + pl * g.OH * g.OW;
        std::fill(dp, dp + g.H * g.W, 0.f);
        for (int64_t oh = 0; oh < g.OH; ++oh)
            for (int64_t ow = 0; ow < g.OW; ++ow) {
                const int64_t t = ap[oh * g.OW + ow];
                const int64_t ih = oh * g.sh - g.ph + (t / g.kw) * g.dh;
                const int64_t iw = ow * g.sw - g.pw + (t % g.kw) * g.dw;
                if (t >= 0 && t < g.kh * g.kw && ih >= 0 && ih < g.H && iw >= 0 && iw < g.W)
                    dp[ih * g.W + iw] += gp[oh * g.OW + ow];
            }
    }
}

}  // namespace fastnn

// ------------------------------------------------------------------------------------ bindings

namespace {

using fastnn::ConvGeom;

int64_t int_item(const py::handle& o, const char* name) {
    try {
        return o.cast<int64_t>();
    } catch (const py::cast_error&) {
        throw py::type_error(std::string(name) + ": expected ints");
    }
}

std::vector<int64_t> ints_arg(const py::handle& o, const char* name, size_t count) {
    if (!py::isinstance<py::sequence>(o) || py::isinstance<py::str>(o) ||
        py::len(o) != count)
        throw py::type_error(std::string(name) + ": expected a tuple of " +
                             std::to_string(count) + " ints");
    std::vector<int64_t> v;
    for (auto e : py::reinterpret_borrow<py::sequence>(o)) v.push_back(int_item(e, name));
    return v;
}

std::pair<int64_t, int64_t> pair_arg(const py::handle& o, const char* name, int64_t minimum) {
    std::vector<int64_t> v = ints_arg(o, name, 2);
    if (v[0] < minimum || v[1] < minimum)
        throw py::value_error(std::string(name) + ": expected values >= " +
                              std::to_string(minimum) + ", got (" + std::to_string(v[0]) + ", " +
                              std::to_string(v[1]) + ")");
    return {v[0], v[1]};
}

std::vector<int64_t> shape_arg(const py::handle& o, const char* name) {
    std::vector<int64_t> v = ints_arg(o, name, 4);
    for (int64_t d : v)
        if (d < 0) throw py::value_error(std::string(name) + ": sizes must be >= 0");
    return v;
}

// Fills and checks the geometry; x_shape (N, C, H, W), w_shape (OC, Cg, KH, KW).
ConvGeom make_geom(const std::vector<int64_t>& xs, const std::vector<int64_t>& ws,
                   const py::handle& stride, const py::handle& padding,
                   const py::handle& dilation, int64_t groups) {
    ConvGeom g;
    g.N = xs[0], g.C = xs[1], g.H = xs[2], g.W = xs[3];
    g.OC = ws[0], g.KH = ws[2], g.KW = ws[3];
    std::tie(g.sh, g.sw) = pair_arg(stride, "stride", 1);
    std::tie(g.ph, g.pw) = pair_arg(padding, "padding", 0);
    std::tie(g.dh, g.dw) = pair_arg(dilation, "dilation", 1);
    if (groups < 1) throw py::value_error("groups: expected a positive int");
    g.groups = groups;
    if (g.C % groups || g.OC % groups)
        throw py::value_error("groups: " + std::to_string(groups) +
                              " must divide the input channels (" + std::to_string(g.C) +
                              ") and the output channels (" + std::to_string(g.OC) + ")");
    if (ws[1] * groups != g.C)
        throw py::value_error("w: channel mismatch: input has " + std::to_string(g.C) +
                              " channels but the weight expects " +
                              std::to_string(ws[1] * groups));
    if (g.KH < 1 || g.KW < 1) throw py::value_error("w: kernel size must be >= 1");
    const int64_t eh = g.dh * (g.KH - 1) + 1, ew = g.dw * (g.KW - 1) + 1;
    const int64_t hp = g.H + 2 * g.ph, wp = g.W + 2 * g.pw;
    if (eh > hp || ew > wp)
        throw py::value_error("w: kernel extent is larger than the padded input");
    g.OH = (hp - eh) / g.sh + 1;
    g.OW = (wp - ew) / g.sw + 1;
    return g;
}

std::vector<int64_t> shape_of(const py::array& a) {
    return {a.shape(0), a.shape(1), a.shape(2), a.shape(3)};
}

py::array forward_py(py::array x, py::array w, py::object bias, py::object stride,
                     py::object padding, py::object dilation, int64_t groups,
                     py::object activation) {
    using namespace fastnn;
    check_f32(x, "x", 4);
    check_f32(w, "w", 4);
    ConvGeom g = make_geom(shape_of(x), shape_of(w), stride, padding, dilation, groups);
    const float* bias_p = opt_ptr(bias, "bias", g.OC);
    bool relu = false;
    if (!activation.is_none()) {
        const std::string a = activation.cast<std::string>();
        if (a != "relu")
            throw py::value_error("activation: expected None or 'relu', got '" + a + "'");
        relu = true;
    }
    py::array y = empty_f32({g.N, g.OC, g.OH, g.OW});
    const float* xp = fptr(x);
    const float* wp = fptr(w);
    float* yp = fptr_mut(y);
    {
        py::gil_scoped_release nogil;
        conv2d_forward_f32(g, xp, wp, bias_p, relu, yp);
    }
    return y;
}

py::array backward_input_py(py::array grad_out, py::array w, py::object input_shape,
                            py::object stride, py::object padding, py::object dilation,
                            int64_t groups) {
    using namespace fastnn;
    check_f32(grad_out, "grad_out", 4);
    check_f32(w, "w", 4);
    ConvGeom g = make_geom(shape_arg(input_shape, "input_shape"), shape_of(w), stride, padding,
                           dilation, groups);
    check_dim(grad_out, "grad_out", 0, g.N);
    check_dim(grad_out, "grad_out", 1, g.OC);
    check_dim(grad_out, "grad_out", 2, g.OH);
    check_dim(grad_out, "grad_out", 3, g.OW);
    py::array dx = empty_f32({g.N, g.C, g.H, g.W});
    const float* dyp = fptr(grad_out);
    const float* wp = fptr(w);
    float* dxp = fptr_mut(dx);
    {
        py::gil_scoped_release nogil;
        conv2d_backward_input_f32(g, dyp, wp, dxp);
    }
    return dx;
}

py::tuple backward_weight_py(py::array x, py::array grad_out, py::object weight_shape,
                             py::object stride, py::object padding, py::object dilation,
                             int64_t groups, bool need_bias) {
    using namespace fastnn;
    check_f32(x, "x", 4);
    check_f32(grad_out, "grad_out", 4);
    std::vector<int64_t> ws = shape_arg(weight_shape, "weight_shape");
    ConvGeom g = make_geom(shape_of(x), ws, stride, padding, dilation, groups);
    check_dim(grad_out, "grad_out", 0, g.N);
    check_dim(grad_out, "grad_out", 1, g.OC);
    check_dim(grad_out, "grad_out", 2, g.OH);
    check_dim(grad_out, "grad_out", 3, g.OW);
    py::array dw = empty_f32({ws[0], ws[1], ws[2], ws[3]});
    py::object db = py::none();
    float* dbp = nullptr;
    if (need_bias) {
        py::array b = empty_f32({g.OC});
        dbp = fptr_mut(b);
        db = b;
    }
    const float* xp = fptr(x);
    const float* dyp = fptr(grad_out);
    float* dwp = fptr_mut(dw);
    {
        py::gil_scoped_release nogil;
        conv2d_backward_weight_f32(g, xp, dyp, dwp, dbp);
    }
    return py::make_tuple(dw, db);
}

int64_t pool_out(int64_t size, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
    const int64_t span = size + 2 * p - d * (k - 1) - 1;
    if (span < 0) throw py::value_error("kernel: the pooling window does not fit the input");
    int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (out - 1) * s >= size + p) --out;
    return out;
}

fastnn::PoolGeom make_pool_geom(const std::vector<int64_t>& xs, const py::handle& kernel,
                                const py::handle& stride, const py::handle& padding,
                                const py::handle& dilation, bool ceil_mode) {
    fastnn::PoolGeom g;
    g.planes = xs[0] * xs[1], g.H = xs[2], g.W = xs[3];
    std::tie(g.kh, g.kw) = pair_arg(kernel, "kernel", 1);
    std::tie(g.sh, g.sw) = pair_arg(stride, "stride", 1);
    std::tie(g.ph, g.pw) = pair_arg(padding, "padding", 0);
    std::tie(g.dh, g.dw) = pair_arg(dilation, "dilation", 1);
    if (2 * g.ph > g.kh || 2 * g.pw > g.kw)
        throw py::value_error("padding: should be at most half of the kernel size");
    g.OH = pool_out(g.H, g.kh, g.sh, g.ph, g.dh, ceil_mode);
    g.OW = pool_out(g.W, g.kw, g.sw, g.pw, g.dw, ceil_mode);
    return g;
}

py::tuple max_pool_forward_py(py::array x, py::object kernel, py::object stride,
                              py::object padding, py::object dilation, bool ceil_mode) {
    using namespace fastnn;
    check_f32(x, "x", 4);
    PoolGeom g = make_pool_geom(shape_of(x), kernel, stride, padding, dilation, ceil_mode);
    py::array y = empty_f32({x.shape(0), x.shape(1), g.OH, g.OW});
    py::array_t<int32_t> arg({x.shape(0), x.shape(1), (py::ssize_t)g.OH, (py::ssize_t)g.OW});
    const float* xp = fptr(x);
    float* yp = fptr_mut(y);
    int32_t* ap = arg.mutable_data();
    {
        py::gil_scoped_release nogil;
        max_pool2d_forward_f32(g, xp, yp, ap);
    }
    return py::make_tuple(y, arg);
}

py::array max_pool_backward_py(py::array grad_out, py::array arg, py::object input_shape,
                               py::object kernel, py::object stride, py::object padding,
                               py::object dilation, bool ceil_mode) {
    using namespace fastnn;
    check_f32(grad_out, "grad_out", 4);
    std::vector<int64_t> xs = shape_arg(input_shape, "input_shape");
    PoolGeom g = make_pool_geom(xs, kernel, stride, padding, dilation, ceil_mode);
    const std::vector<int64_t> want = {xs[0], xs[1], g.OH, g.OW};
    for (int a = 0; a < 4; ++a) check_dim(grad_out, "grad_out", a, want[a]);
    if (!py::isinstance<py::array_t<int32_t>>(arg) || !arg.dtype().is(py::dtype::of<int32_t>()) ||
        arg.ndim() != 4 || !(arg.flags() & py::array::c_style))
        throw py::type_error("arg: expected a C-contiguous 4-D int32 array");
    for (int a = 0; a < 4; ++a) check_dim(arg, "arg", a, want[a]);
    py::array dx = empty_f32({xs[0], xs[1], xs[2], xs[3]});
    const float* gp = fptr(grad_out);
    const int32_t* ap = static_cast<const int32_t*>(arg.data());
    float* dp = fptr_mut(dx);
    {
        py::gil_scoped_release nogil;
        max_pool2d_backward_f32(g, gp, ap, dp);
    }
    return dx;
}

}  // namespace

void register_conv2d(py::module_& m) {
    m.def("max_pool2d_forward", &max_pool_forward_py, py::arg("x"), py::arg("kernel"),
          py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"),
          "Max pooling over NCHW float32: (y, arg int32 tap index).");
    m.def("max_pool2d_backward", &max_pool_backward_py, py::arg("grad_out"), py::arg("arg"),
          py::arg("input_shape"), py::arg("kernel"), py::arg("stride"), py::arg("padding"),
          py::arg("dilation"), py::arg("ceil_mode"), "Gradient of max_pool2d_forward.");
    m.def("conv2d_forward", &forward_py, py::arg("x"), py::arg("w"), py::arg("bias"),
          py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups"),
          py::arg("activation"),
          "NCHW float32 conv2d with fused bias and optional ReLU (see fastnn.backends.contract).");
    m.def("conv2d_backward_input", &backward_input_py, py::arg("grad_out"), py::arg("w"),
          py::arg("input_shape"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
          py::arg("groups"), "Gradient of conv2d_forward with respect to x.");
    m.def("conv2d_backward_weight", &backward_weight_py, py::arg("x"), py::arg("grad_out"),
          py::arg("weight_shape"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
          py::arg("groups"), py::arg("need_bias"),
          "Gradients of conv2d_forward with respect to w and bias: (grad_w, grad_bias or None).");
}
