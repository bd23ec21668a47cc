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
//   backward_weight items take >= 256 pixels (several whole images, their dY rows copied side by
//   side, when images are smaller) so each sgemm call's dW traffic is amortised.
// Version 3 (conv2d_forward_packed; version 2 was the same without depth blocking): GEMM's
//   register tile (simd.h: 6x16 AVX2, 6x64 AVX-512) driven by conv packing, each operand
//   packed once. Weights: once per call (in parallel), per group and depth block of kc <= 256,
//   into MR-row panels. Columns: tiles of PT pixels over the N*OH*OW pixels of the whole batch
//   (12x12 images still fill whole panels); per depth block the tile's im2col rows go straight
//   into NR-column panels, each packed just before the weight panels stream past it (so it is
//   in L1), and the tile's accumulators (OCg x PT <= 96 KiB) stay in L2 across depth blocks. The
//   last depth block's epilogue adds bias (+ ReLU) in registers and stores into y directly
//   (an image's output plane is contiguous); only panels straddling two images go through the
//   scatter of image-row runs.
//   AVX2 stride-1 gather: a plan per run and tap (offset + int32 lane mask) so a panel row is
//   the OR of one masked load per run (vmaskmovps reads nothing for masked-off lanes, so the
//   zero padding is free); one plan per image serves every tile when no panel straddles two
//   images. AVX2 stride 2 (2026-12-06): a run's row of one tap is two masked loads of 16
//   floats per 8 lanes and an even-lane deinterleave (gather_row_s2), not a scalar loop.
//   Other ISAs and strides gather row segments (gather_row).
//   Stride-1 backward_input runs as this forward on dY with transposed, flipped weights.
//   (A version 3 backward_weight, reduction over pixels, measured no faster than version 1 and
//   was deleted: its transposed gather is scalar.)
// Version 4 (backward_weight only, AVX2, stride 1 or 2 along W; conv2d_backward_weight_direct):
//   no im2col; lane vectors of 8 output columns, a register tile of 4 output channels x 3 taps
//   accumulates dy . x over a block of images, per-thread partials over disjoint image ranges.
//   The C++ "auto" is version 1; the cpp backend (fastnn/backends/cpp) asks for version 4
//   where it measured faster: stride 1, >= 1024 output pixels per plane, >= 8 input channels.
// Which runs ("auto"; the `version` argument "v1"/"v3" ("v1"/"v4" for backward_weight) forces
//   one, registered as versions of the cpp backend, fastnn.backends.use_version): forward
//   version 3; backward_input version 3 when stride 1 and >= 16 input channels per group, else
//   version 1; backward_weight version 1 (transposed from 4096 pixels, see
//   conv2d_backward_weight_f32).
//
// Versions (GFLOP/s: 1 thread, thread CPU time; ratio vs PyTorch/oneDNN, 2 threads; notes and
// every figure in docs/benchmarks.md, "Kernel history")
//   version  idea                                     measured                           date
//   1        im2col tiles in L2 + fastnn::sgemm       Zen 3 AVX2 fwd 33-65 GF/s          2026-11-23
//   2        GEMM register tile on conv packing, no   slower than 1 on AVX2; Zen 4       2026-11-23
//            depth blocking (deleted)                 AVX-512 fwd 87-94 GF/s
//   3 (now)  2 + depth blocks kc <= 256, AVX2         Zen 3 AVX2 fwd 37-76 GF/s (1.06-   2026-12-01
//            masked-load gather plan, fused           1.3x v1); vs torch, 2 threads: fwd
//            epilogue                                 0.90-1.31x, bwd 0.81-1.64x
//   3 + s2   AVX2 stride-2 gather (deinterleave);     v3 / v1 time, same run, 1 thread,  2026-12-06
//            backward_input v3 from 16 channels       N=100 16->32 32x32 s2 fwd: 1.25 ->
//            (was 32)                                 0.84-1.03; bwd_in 16->16 32x32 auto
//                                                     0.60 -> 0.97x torch (v3 there)
//   4        direct backward_weight, 4 oc x 3 taps    v1 / v4 time, same run, 1 (2) threads: 2026-12-06
//            lane-vector tile, no im2col (AVX2)       16->16 32x32 1.59 (1.37); 32->32 16x16
//                                                     1.03 (0.73); 64->64 8x8 0.91 (1.22);
//                                                     stride 2 and 3->16: 0.33-0.93
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <vector>

#include "common.h"
#include "gemm.h"
#include "simd.h"

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
    // Output rows are walked, not divided out per segment (two idivs per 12-float row of a
    // 12x12 image cost as much as the copy).
    const int64_t HW = g.H * g.W, oh_start = p0 / g.OW, ow_start = p0 % g.OW, pend = p0 + pt;
    for (int64_t c = 0; c < g.Cg(); ++c) {
        const float* xc = xg + c * HW;
        for (int64_t i = 0; i < g.KH; ++i) {
            for (int64_t j = 0; j < g.KW; ++j) {
                float* dst = col + ((c * g.KH + i) * g.KW + j) * ldcol;
                int64_t lo, hi;
                valid_range(j, g.sw, g.pw, g.dw, g.W, g.OW, &lo, &hi);
                for (int64_t p = p0, oh = oh_start, ow0 = ow_start; p < pend; ++oh, ow0 = 0) {
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
                        if (g.sw == 1) {  // rows are short (12..56): inline, not memcpy
                            float* dd = d + (a - ow0);
                            const float* ss = src + a;
                            int64_t t = 0;
                            for (; t + simd::W <= b - a; t += simd::W)
                                simd::storeu(dd + t, simd::loadu(ss + t));
                            for (; t < b - a; ++t) dd[t] = ss[t];
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
    const int64_t HW = g.H * g.W, oh_start = p0 / g.OW, ow_start = p0 % g.OW, pend = p0 + pt;
    for (int64_t c = 0; c < g.Cg(); ++c) {
        float* dxc = dxg + c * HW;
        for (int64_t i = 0; i < g.KH; ++i) {
            for (int64_t j = 0; j < g.KW; ++j) {
                const float* srcrow = col + ((c * g.KH + i) * g.KW + j) * ldcol;
                int64_t lo, hi;
                valid_range(j, g.sw, g.pw, g.dw, g.W, g.OW, &lo, &hi);
                for (int64_t p = p0, oh = oh_start, ow0 = ow_start; p < pend; ++oh, ow0 = 0) {
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

// acc[ROWS x NR] += a-panel (kc x MR, rows < ROWS used) . b-panel (kc x NR).
template <int ROWS>
inline void micro_accumulate(int64_t kc, const float* __restrict a, const float* __restrict b,
                             vf (&acc)[ROWS][NV]) {
#pragma GCC unroll 2
    for (int64_t p = 0; p < kc; ++p) {
        vf bv[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) bv[v] = simd::load(b + v * W);
#pragma GCC unroll 8
        for (int r = 0; r < ROWS; ++r) {
            const vf av = simd::set1(a[r]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[r][v] = simd::fmadd(av, bv[v], acc[r][v]);
        }
        a += MR;
        b += NR;
    }
}

// The accumulators start at zero, or (ACCUM) at the ROWS x NR tile c_in (row stride ldc).
template <bool ACCUM, int ROWS>
inline void micro_init(const float* __restrict cin, int64_t ldc, vf (&acc)[ROWS][NV]) {
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v)
            acc[r][v] = ACCUM ? simd::loadu(cin + r * ldc + v * W) : simd::zero();
}

// c[ROWS x NR] (= or +=) a-panel (kc x MR, rows < ROWS used) . b-panel (kc x NR).
template <bool ACCUM, int ROWS = MR>
inline void micro_tile(int64_t kc, const float* __restrict a, const float* __restrict b,
                       float* __restrict c, int64_t ldc) {
    vf acc[ROWS][NV];
    micro_init<ACCUM, ROWS>(c, ldc, acc);
    micro_accumulate<ROWS>(kc, a, b, acc);
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) simd::storeu(c + r * ldc + v * W, acc[r][v]);
}

// A full vector of output; non-temporal (nt) where aligned: for an output larger than the
// caches that is written once, a normal store first reads in the line it overwrites.
inline void store_out(float* p, vf v, bool nt) {
    if (nt) return simd::store_nt(p, v);
    simd::storeu(p, v);
}

// micro_tile with the output epilogue: acc (+ c_in when ACCUM) + bias[r] (+ ReLU) stored to
// rows < ROWS, columns < `cols` of out (row stride ldo); bias may be null; nt: see store_out.
template <bool ACCUM, int ROWS>
inline void micro_final(int64_t kc, const float* __restrict a, const float* __restrict b,
                        const float* __restrict cin, int64_t ldc, float* __restrict out,
                        int64_t ldo, int cols, const float* bias, bool relu, bool nt) {
    vf acc[ROWS][NV];
    micro_init<ACCUM, ROWS>(cin, ldc, acc);
    micro_accumulate<ROWS>(kc, a, b, acc);
    const vf zero = simd::zero();
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; ++r) {
        const vf bb = simd::set1(bias ? bias[r] : 0.f);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
            vf t = simd::add(acc[r][v], bb);
            // max(0, t), not max(t, 0): the instruction returns its second operand when either
            // is NaN, and NaN must stay NaN (as in torch)
            if (relu) t = simd::max(zero, t);
            const int n = std::min(W, std::max(0, cols - v * W));
            if (n == W)
                store_out(out + r * ldo + v * W, t, nt);
            else if (n > 0)
                simd::storeu_n(out + r * ldo + v * W, t, n);
        }
    }
}

// Calls f(std::integral_constant<int, rows>) for rows in 1..MR (a template argument from a
// runtime row count).
static_assert(MR == 6, "with_rows covers 1..6");
template <class F>
inline void with_rows(int rows, F&& f) {
    switch (rows) {
        case 1: f(std::integral_constant<int, 1>{}); break;
        case 2: f(std::integral_constant<int, 2>{}); break;
        case 3: f(std::integral_constant<int, 3>{}); break;
        case 4: f(std::integral_constant<int, 4>{}); break;
        case 5: f(std::integral_constant<int, 5>{}); break;
        default: f(std::integral_constant<int, 6>{}); break;
    }
}

// Row panels of OCg output channels: MR rows each, except that a 1..3-row last panel is merged
// with the one before and split in two (4/3, 4/4 or 5/4 rows): a 2-row panel has only 2*NV
// accumulators, fewer than the two 4-cycle FMA pipes need, and a 6-row panel with 4 empty rows
// computes zeros (OC = 32: 36 rows computed instead of 32).
inline void panel_rows(int64_t OCg, int64_t ip, int64_t* row0, int* rows) {
    const int64_t np = (OCg + MR - 1) / MR, rem = OCg % MR;
    if (np >= 2 && rem >= 1 && rem <= 3 && ip >= np - 2) {
        const int64_t base = (np - 2) * MR, total = MR + rem, first = (total + 1) / 2;
        *row0 = ip == np - 2 ? base : base + first;
        *rows = (int)(ip == np - 2 ? first : total - first);
        return;
    }
    *row0 = ip * MR;
    *rows = (int)std::min<int64_t>(MR, OCg - ip * MR);
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

#if defined(__AVX2__) && !defined(__AVX512F__)
constexpr bool kGatherS2 = true;
// Lanes t of iw0 + t (t < 8) that lie inside [0, Wd), as an int32 mask.
inline __m256i in_row_mask(int64_t iw0, int64_t Wd) {
    const __m256i iw = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                        _mm256_set1_epi32((int)iw0));
    return _mm256_and_si256(_mm256_cmpgt_epi32(iw, _mm256_set1_epi32(-1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32((int)Wd), iw));
}
// The even lanes of 16 floats row[iw0 .. iw0+16) (zero outside [0, Wd)): 8 stride-2 taps.
inline __m256 load_s2(const float* row, int64_t iw0, int64_t Wd) {
    // a masked-off lane reads nothing, so row + iw0 may point before the row
    const __m256 v0 = _mm256_maskload_ps(row + iw0, in_row_mask(iw0, Wd));
    const __m256 v1 = _mm256_maskload_ps(row + iw0 + 8, in_row_mask(iw0 + 8, Wd));
    const __m256 e = _mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 a4 a6 b4 b6
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
}
// dst[t] = row[iw0 + 2t] for t < len (zero outside [0, Wd)): a stride-2 row of one tap, 8 lanes
// per two masked loads and a deinterleave instead of a scalar loop with per-element branches.
inline void gather_row_s2(const float* row, int64_t iw0, int64_t len, int64_t Wd, float* dst) {
    int64_t o = 0;
    for (; o + 8 <= len; o += 8) _mm256_storeu_ps(dst + o, load_s2(row, iw0 + 2 * o, Wd));
    if (o < len) simd::storeu_n(dst + o, load_s2(row, iw0 + 2 * o, Wd), (int)(len - o));
}
#else
constexpr bool kGatherS2 = false;
inline void gather_row_s2(const float*, int64_t, int64_t, int64_t, float*) {}
#endif

// Rows [k0, k0+kc) of the im2col columns of a tile -> NR-column panels
// bp[(jb*kc + k-k0)*NR + l] (forward operand B, one depth block).
void pack_columns(const ConvGeom& g, const float* x, int64_t grp, const std::vector<Run>& runs,
                  int64_t ncols, int64_t k0, int64_t kc, float* bp) {
    const int64_t HW = g.H * g.W;
    const int64_t tail = ncols % NR, last = ncols / NR;
    for (int64_t k = k0; k < k0 + kc; ++k) {
        const int64_t c = k / (g.KH * g.KW), i = (k / g.KW) % g.KH, j = k % g.KW;
        int64_t lo, hi;
        valid_range(j, g.sw, g.pw, g.dw, g.W, g.OW, &lo, &hi);
        const float* xc0 = x + (grp * g.Cg() + c) * HW;
        for (const Run& r : runs) {
            const float* xc = xc0 + r.n * g.C * HW;
            float* dst = bp + ((r.q / NR) * kc + (k - k0)) * NR + r.q % NR;
            const int64_t ih = r.oh * g.sh - g.ph + i * g.dh;
            if (g.sw == 1 && ih >= 0 && ih < g.H && r.ow >= lo && r.ow + r.len <= hi) {
                const float* src = xc + ih * g.W - g.pw + j * g.dw + r.ow;
                int64_t t = 0;
                for (; t + W <= r.len; t += W) simd::storeu(dst + t, simd::loadu(src + t));
                for (; t < r.len; ++t) dst[t] = src[t];
            } else if (kGatherS2 && g.sw == 2 && ih >= 0 && ih < g.H) {
                gather_row_s2(xc + ih * g.W, r.ow * 2 - g.pw + j * g.dw, r.len, g.W, dst);
            } else {
                gather_row(g, xc, ih, j, r.ow, r.len, lo, hi, dst, 1);
            }
        }
        if (tail) std::fill(bp + (last * kc + k - k0) * NR + tail, bp + (last * kc + k - k0 + 1) * NR, 0.f);
    }
}

#if defined(__AVX2__) && !defined(__AVX512F__)
// Gather plan of one tile for stride-1 columns (AVX2): per run and kernel tap (i, j), the
// offset, inside one channel plane, of the input element that lane 0 of the run's panel would
// read, and an int32 mask over the panel's NR lanes (-1 where the lane is one of the run's
// pixels and the tap lands inside the input). A panel row is then the OR of one masked load per
// run it holds: no per-run branches, zero padding for free (a masked-off lane reads nothing).
struct TapRun {
    alignas(32) int32_t mask[NR];
    int64_t off;
};
constexpr bool kGatherPlan = true;

// Builds plan[run * KH*KW + tap] and first[jb] (index of the first run of panel jb, runs are in
// column order); false when it would not pay (stride > 1) or not fit (plan > max_bytes).
bool make_plan(const ConvGeom& g, const std::vector<Run>& runs, int64_t npan,
               std::vector<TapRun>& plan, std::vector<int64_t>& first, int64_t max_bytes) {
    const int64_t KK = g.KH * g.KW;
    if (g.sw != 1 || (int64_t)runs.size() * KK * (int64_t)sizeof(TapRun) > max_bytes) return false;
    plan.resize(runs.size() * KK);
    first.assign(npan + 1, (int64_t)runs.size());
    for (int64_t ri = (int64_t)runs.size() - 1; ri >= 0; --ri) first[runs[ri].q / NR] = ri;
    for (int64_t jb = npan - 1; jb >= 0; --jb) first[jb] = std::min(first[jb], first[jb + 1]);
    const int64_t HW = g.H * g.W;
    for (size_t ri = 0; ri < runs.size(); ++ri) {
        const Run& r = runs[ri];
        const int64_t lane0 = r.q % NR;
        for (int64_t i = 0; i < g.KH; ++i) {
            const int64_t ih = r.oh * g.sh - g.ph + i * g.dh;
            const bool rowok = ih >= 0 && ih < g.H;
            for (int64_t j = 0; j < g.KW; ++j) {
                int64_t lo, hi;
                valid_range(j, g.sw, g.pw, g.dw, g.W, g.OW, &lo, &hi);
                TapRun& t = plan[ri * KK + i * g.KW + j];
                bool any = false;
                for (int64_t l = 0; l < NR; ++l) {
                    const int64_t ow = r.ow + l - lane0;
                    const bool in = rowok && l >= lane0 && l < lane0 + r.len && ow >= lo && ow < hi;
                    t.mask[l] = in ? -1 : 0;
                    any |= in;
                }
                t.off = any ? r.n * g.C * HW + ih * g.W + r.ow - lane0 - g.pw + j * g.dw : 0;
            }
        }
    }
    return true;
}

// pack_columns through the plan (see make_plan), panels [jb0, jb1) only; bp holds panel jb at
// (jb - jb0) * kc * NR. A tile's own plan: ppi = 0, panel jb is plan panel jb. A per-image plan
// (P a multiple of NR): ppi = P / NR panels, the tile's panel jb is global panel gp0 + jb.
// Each load of channel c also prefetches the same pixels of channel c + 1, which the next
// KH*KW depth rows read (the plane stride defeats the hardware prefetcher).
void pack_columns_plan(const ConvGeom& g, const float* x, int64_t grp, const TapRun* plan,
                       const int64_t* first, int64_t ppi, int64_t gp0, int64_t jb0, int64_t jb1,
                       int64_t k0, int64_t kc, float* bp) {
    const int64_t KK = g.KH * g.KW, HW = g.H * g.W, Cg = g.Cg();
    constexpr int64_t kMaxPanels = 64;  // forward_blocking keeps PT <= 512 columns
    int64_t r0[kMaxPanels], r1[kMaxPanels], noff[kMaxPanels];
    for (int64_t jb = jb0; jb < jb1; ++jb) {
        const int64_t pj = ppi ? (gp0 + jb) % ppi : jb;
        r0[jb - jb0] = first[pj], r1[jb - jb0] = first[pj + 1];
        noff[jb - jb0] = ppi ? (gp0 + jb) / ppi * g.C * HW : 0;
    }
    int64_t c = k0 / KK, tap = k0 % KK;
    for (int64_t k = k0; k < k0 + kc; ++k) {
        const float* xc = x + (grp * Cg + c) * HW;
        const int64_t pf = c + 1 < Cg ? HW : 0;
        float* dst = bp + (k - k0) * NR;
        for (int64_t q = 0; q < jb1 - jb0; ++q, dst += kc * NR) {
            vf v0 = simd::zero(), v1 = simd::zero();
            const float* xn = xc + noff[q];
            for (int64_t ri = r0[q]; ri < r1[q]; ++ri) {
                const TapRun& t = plan[ri * KK + tap];
                const float* src = xn + t.off;
                simd::prefetch(src + pf + 8);
                v0 = simd::or_bits(v0, simd::maskload(src, t.mask));
                v1 = simd::or_bits(v1, simd::maskload(src + 8, t.mask + 8));
            }
            simd::store(dst, v0);
            simd::store(dst + 8, v1);
        }
        if (++tap == KK) tap = 0, ++c;
    }
}
#else
struct TapRun {
    int64_t off;
};
constexpr bool kGatherPlan = false;
bool make_plan(const ConvGeom&, const std::vector<Run>&, int64_t, std::vector<TapRun>&,
               std::vector<int64_t>&, int64_t) {
    return false;
}
void pack_columns_plan(const ConvGeom&, const float*, int64_t, const TapRun*, const int64_t*,
                       int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, float*) {}
#endif

// Depth blocking of the packed forward: kc <= KC (balanced) so one B panel (kc x NR) stays in
// L1 while the MR-row weight panels of the block stream through it from L2.
constexpr int64_t kConvKC = 256;
// Output-channel panels per block: mcp * kc * MR floats of weights (<= 128 KiB) stay in L2.
constexpr int64_t kConvABytes = 128 * 1024;
// Accumulator tile: OCg (rounded to MR) x PT floats (<= 96 KiB), PT a multiple of NR.
constexpr int64_t kConvCBytes = 96 * 1024;

struct FwdBlocking {
    int64_t nkb, kc, mcp, PT;
};

FwdBlocking forward_blocking(const ConvGeom& g) {
    FwdBlocking b;
    const int64_t K = g.K(), L = g.N * g.P(), np = (g.OCg() + MR - 1) / MR;
    b.nkb = (K + kConvKC - 1) / kConvKC;
    b.kc = (K + b.nkb - 1) / b.nkb;
    b.mcp = std::max<int64_t>(1, std::min<int64_t>(np, kConvABytes / (b.kc * MR * 4)));
    int64_t pt = kConvCBytes / 4 / (np * MR);
    pt = std::max<int64_t>(NR, std::min<int64_t>(512, pt / NR * NR));
    // Enough tiles for the threads: about 4 per thread where the problem allows.
    const int64_t want = 4 * (int64_t)max_threads() / std::max<int64_t>(1, g.groups);
    if (want > 1) {
        const int64_t fit = std::max<int64_t>(NR, (L / want) / NR * NR);
        pt = std::min(pt, fit);
    }
    b.PT = pt;
    return b;
}

// Weights -> per group and depth block kb, MR-row panels of kc rows: panel u = (grp*nkb + kb)*np
// + ip at ap[u*kc*MR], ap[(u*kc + k-k0)*MR + r] = w[grp*OCg + ip*MR + r, k] (zero past OCg, K).
void pack_weight_panel(const ConvGeom& g, const float* w, const FwdBlocking& b, int64_t u,
                       float* ap) {
    const int64_t K = g.K(), OCg = g.OCg(), np = (OCg + MR - 1) / MR;
    const int64_t ip = u % np, kb = (u / np) % b.nkb, grp = u / np / b.nkb;
    const int64_t k0 = kb * b.kc, kc = std::min(b.kc, K - k0);
    float* d0 = ap + u * b.kc * MR;
    int64_t row0;
    int rows;
    panel_rows(OCg, ip, &row0, &rows);
    for (int r = 0; r < MR; ++r) {
        const int64_t oc = row0 + r;
        float* d = d0 + r;
        if (r < rows) {
            const float* s = w + (grp * OCg + oc) * K + k0;
            for (int64_t k = 0; k < kc; ++k) d[k * MR] = s[k];
        } else {
            for (int64_t k = 0; k < kc; ++k) d[k * MR] = 0.f;
        }
    }
}

void conv2d_forward_packed(const ConvGeom& g, const float* x, const float* w, const float* bias,
                           bool relu, float* y) {
    const int64_t K = g.K(), P = g.P(), OCg = g.OCg(), G = g.groups, L = g.N * P;
    const int64_t np = (OCg + MR - 1) / MR;
    const FwdBlocking b = forward_blocking(g);
    // Non-temporal output stores from 4 MiB of output (2026-12-01, Zen 3, 2 threads, wall:
    // CNN1 forward, 4.7 MB out, 1.59 -> 0.88 ms and 1.75 -> 1.07 ms; 1 thread 2.19 -> 1.98 ms;
    // RN64/RN128 +-2%; the seed-CNN training step, whose pooling reads that output next,
    // 26.4-27.0 -> 25.5-25.8 ms, within noise).
    const bool nt = (double)g.N * g.OC * P * sizeof(float) >= 4.0 * 1024 * 1024;
    const int64_t wsz = b.nkb * np * b.kc * MR;  // packed weights of one group
    Buf apack((size_t)(G * wsz));
    const int64_t PT = b.PT, ntiles = (L + PT - 1) / PT;
    const int64_t items = G * ntiles;
    // Where no panel straddles two images (P a multiple of NR) one plan of an image's panels
    // serves every tile (a tile's own plan costs as much as its packing when K is small).
    std::vector<TapRun> iplan;
    std::vector<int64_t> ifirst;
    bool image_plan = false;
    if (kGatherPlan && P % NR == 0) {
        std::vector<Run> iruns;
        ConvGeom g1 = g;
        g1.N = 1;
        make_runs(g1, 0, P, iruns);
        image_plan = make_plan(g, iruns, P / NR, iplan, ifirst, 2 * 1024 * 1024);
    }
#pragma omp parallel if (items > 1 && (double)L * OCg * K * G > 1e6)
    {
        Buf bpack((size_t)(PT * b.kc));
        Buf cbuf((size_t)(np * MR * PT));
        std::vector<Run> runs;
        std::vector<TapRun> plan;
        std::vector<int64_t> first, pimg;
#pragma omp for schedule(static)
        for (int64_t u = 0; u < G * b.nkb * np; ++u) pack_weight_panel(g, w, b, u, apack.p);
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; ++it) {
            const int64_t grp = it / ntiles, col0 = (it % ntiles) * PT;
            const int64_t ncols = std::min(PT, L - col0), npan = (ncols + NR - 1) / NR;
            // The per-image plan needs no runs (and no panel straddles two images there).
            if (image_plan)
                runs.clear();
            else
                make_runs(g, col0, ncols, runs);
            const bool planned =
                image_plan || (kGatherPlan && make_plan(g, runs, npan, plan, first, 256 * 1024));
            const TapRun* pt = image_plan ? iplan.data() : plan.data();
            const int64_t* pf = image_plan ? ifirst.data() : first.data();
            const int64_t ppi = image_plan ? P / NR : 0, gp0 = col0 / NR;
            // pimg[jb]: the image of panel jb, -1 where it straddles two.
            pimg.resize(npan);
            for (int64_t jb = 0; jb < npan; ++jb) {
                const int64_t c0 = col0 + jb * NR, c1 = std::min(col0 + ncols, c0 + NR) - 1;
                pimg[jb] = c0 / P == c1 / P ? c0 / P : -1;
            }
            for (int64_t kb = 0; kb < b.nkb; ++kb) {
                const int64_t k0 = kb * b.kc, kc = std::min(b.kc, K - k0);
                // One block of weight panels: each B panel is packed just before its use (in
                // L1); several: the whole depth block is packed once for all of them.
                const bool each = planned && b.mcp >= np;
                if (planned && !each)
                    pack_columns_plan(g, x, grp, pt, pf, ppi, gp0, 0, npan, k0, kc, bpack.p);
                else if (!planned)
                    pack_columns(g, x, grp, runs, ncols, k0, kc, bpack.p);
                const float* ak = apack.p + grp * wsz + kb * np * b.kc * MR;
                for (int64_t i0 = 0; i0 < np; i0 += b.mcp) {
                    const int64_t i1 = std::min(np, i0 + b.mcp);
                    for (int64_t jb = 0; jb < npan; ++jb) {
                        const float* bj = bpack.p + (each ? 0 : jb * kc * NR);
                        if (each)
                            pack_columns_plan(g, x, grp, pt, pf, ppi, gp0, jb, jb + 1, k0, kc,
                                              bpack.p);
                        // Last depth block, panel inside one image: the epilogue stores straight
                        // into y (an image's output plane is contiguous over oh, ow).
                        const int64_t cw = std::min<int64_t>(NR, ncols - jb * NR);
                        const int64_t n0 = pimg[jb];
                        const bool direct = kb == b.nkb - 1 && n0 >= 0;
                        for (int64_t ip = i0; ip < i1; ++ip) {
                            const float* aip = ak + ip * b.kc * MR;
                            int64_t row0;
                            int rows;
                            panel_rows(OCg, ip, &row0, &rows);
                            float* c = cbuf.p + row0 * PT + jb * NR;
                            const int64_t oc0 = grp * OCg + row0;
                            float* out = direct ? y + (n0 * g.OC + oc0) * P + (col0 + jb * NR - n0 * P)
                                                : nullptr;
                            const float* bb = bias ? bias + oc0 : nullptr;
                            with_rows(rows, [&](auto R) {
                                constexpr int ROWS = decltype(R)::value;
                                if (direct && kb == 0)
                                    micro_final<false, ROWS>(kc, aip, bj, c, PT, out, P, (int)cw, bb, relu, nt);
                                else if (direct)
                                    micro_final<true, ROWS>(kc, aip, bj, c, PT, out, P, (int)cw, bb, relu, nt);
                                else if (kb == 0)
                                    micro_tile<false, ROWS>(kc, aip, bj, c, PT);
                                else
                                    micro_tile<true, ROWS>(kc, aip, bj, c, PT);
                            });
                        }
                    }
                }
            }
            // Epilogue of the panels that straddle two images: bias (+ ReLU) and scatter of
            // their runs into the NCHW output.
            const bool straddle = std::any_of(pimg.begin(), pimg.end(), [](int64_t n) { return n < 0; });
            for (int64_t r = 0; straddle && r < OCg; ++r) {
                const int64_t oc = grp * OCg + r;
                const float bv = bias ? bias[oc] : 0.f;
                const float* src = cbuf.p + r * PT;
                for (const Run& rn : runs) {
                    if (pimg[rn.q / NR] >= 0) continue;
                    float* dst = y + (rn.n * g.OC + oc) * P + rn.oh * g.OW + rn.ow;
                    const float* s = src + rn.q;
                    if (relu) {
                        for (int64_t t = 0; t < rn.len; ++t) dst[t] = std::max(s[t] + bv, 0.f);
                    } else {
                        for (int64_t t = 0; t < rn.len; ++t) dst[t] = s[t] + bv;
                    }
                }
            }
        }
        simd::sfence();  // order this thread's non-temporal stores before the region ends
    }
}

}  // namespace

// Which version runs: the binding's `version` argument ("auto", "v1", "v3"); the cpp backend
// registers v1 and v3 as selectable versions (fastnn.backends.use_version) and "auto" is the
// rule in the header comment.
enum class Impl { Auto, V1, V3, V4 };
Impl parse_impl(const std::string& v) {
    if (v == "auto") return Impl::Auto;
    if (v == "v1") return Impl::V1;
    if (v == "v3") return Impl::V3;
    throw py::value_error("version: expected 'auto', 'v1' or 'v3', got '" + v + "'");
}
// backward_weight: "v1" (sgemm on im2col tiles) or "v4" (direct, AVX2; where it does not apply,
// version 1 runs).
Impl parse_impl_bwdw(const std::string& v) {
    if (v == "auto") return Impl::Auto;
    if (v == "v1") return Impl::V1;
    if (v == "v4") return Impl::V4;
    throw py::value_error("version: expected 'auto', 'v1' or 'v4', got '" + v + "'");
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
                        bool relu, float* y, Impl impl) {
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
    // Auto: version 3 on every ISA (it beat version 1 on every benchmark layer, header).
    if (impl == Impl::V1)
        conv2d_forward_sgemm(g, x, w, bias, relu, y);
    else
        conv2d_forward_packed(g, x, w, bias, relu, y);
}

// Stride-1 backward_input is itself a forward convolution: of dY, zero-padded by
// d*(k-1) - p, with each group's weights transposed (C <-> OC) and flipped in both taps.
bool backward_input_as_forward(const ConvGeom& g, const float* dy, const float* w, float* dx,
                               Impl impl) {
    if (g.sh != 1 || g.sw != 1 || g.ph > g.dh * (g.KH - 1) || g.pw > g.dw * (g.KW - 1))
        return false;
    // Few input channels leave the MR-row panels of the transposed problem mostly empty.
    if (impl == Impl::V1 || (impl == Impl::Auto && g.Cg() < 16)) return false;
    // It convolves a zero-padded dY: a non-finite weight times a padding zero would put NaN in
    // grad_x elements whose taps touch no real dY entry (torch keeps them finite); version 1's
    // col2im never reads padding.
    for (int64_t i = 0, n = g.OC * g.Cg() * g.KH * g.KW; i < n; ++i)
        if (!std::isfinite(w[i])) return false;
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

void conv2d_backward_input_f32(const ConvGeom& g, const float* dy, const float* w, float* dx,
                               Impl impl) {
    const int64_t K = g.K(), P = g.P(), OCg = g.OCg(), G = g.groups;
    const int64_t HW = g.H * g.W;
    if (g.N > 0 && g.C > 0 && OCg > 0 && P > 0 && backward_input_as_forward(g, dy, w, dx, impl))
        return;
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

#if defined(__AVX2__) && !defined(__AVX512F__)
// Version 4 backward_weight (AVX2, stride 1 or 2 along W): direct, no im2col. Vectorised over 8
// output columns ow, dW[oc, c, i, j] = sum over n, oh, ow of dy[n, oc, oh, ow] *
// x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]: a register tile of RO output channels x JN taps
// j (one c, one i) holds RO*JN lane-vector partial sums over a block of images, each dy vector
// is loaded once for JN taps and each x vector once for RO channels. Input rows outside
// [0, H) are skipped, columns outside [0, W) and lanes past OW read as zero (masked loads).
// Threads take disjoint image ranges; their lane-vector partials are summed at the end.
struct BwdWPlan {
    int64_t nq;                       // 8-column chunks of an output row
    std::vector<__m256i> dmask;       // [q]: lanes with ow < OW
    std::vector<__m256i> xmask;       // [(q*KW + j)*2 + h]: x lanes (stride 2: h = half)
    std::vector<char> xfull;          // [q*KW + j]: stride 1 and all 8 x lanes inside the row
    // Stride 1, output plane == input plane, W a multiple of 8: a tap row's valid pixels are one
    // contiguous range of the plane, walked without a per-row loop (8x8 images: 1 chunk a row).
    bool flat;
};

template <int S>
inline __m256 load_x(const float* row, int64_t iw0, const __m256i* m) {
    if constexpr (S == 1) {
        return _mm256_maskload_ps(row + iw0, m[0]);
    } else {
        const __m256 v0 = _mm256_maskload_ps(row + iw0, m[0]);
        const __m256 v1 = _mm256_maskload_ps(row + iw0 + 8, m[1]);
        const __m256 e = _mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(2, 0, 2, 0));
        return _mm256_castpd_ps(
            _mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
    }
}

// acc (RO x JN lane vectors at accm[(r*KK + i*KW + j0 + jj) * 8], rows of Cg*KK*8 floats) +=
// the products of images [n0, n1) for output channels oc0.., input channel c, tap row i, taps
// j0..j0+JN.
template <int S, int RO, int JN>
void bwdw_tile(const ConvGeom& g, const BwdWPlan& pl, const float* x, const float* dy,
               int64_t n0, int64_t n1, int64_t oc0, int64_t cin, int64_t i, int64_t j0,
               float* accm, int64_t ldacc) {
    // The JN x vectors first, then one dy vector at a time: 4*3 accumulators + 3 + 1 fit the 16
    // registers (holding all 4 dy vectors spilled an accumulator through the stack: 2x slower).
    __m256 acc[RO][JN];
#pragma GCC unroll 4
    for (int r = 0; r < RO; ++r)
#pragma GCC unroll 4
        for (int jj = 0; jj < JN; ++jj) acc[r][jj] = _mm256_setzero_ps();
    const int64_t HW = g.H * g.W, P = g.OH * g.OW;
    if (S == 1 && pl.flat) {
        const int64_t olo = std::max<int64_t>(0, g.ph - i * g.dh);
        const int64_t ohi = std::min<int64_t>(g.OH, g.H + g.ph - i * g.dh);
        for (int64_t n = n0; n < n1; ++n) {
            const float* xb = x + (n * g.C + cin) * HW + (i * g.dh - g.ph) * g.W - g.pw;
            const float* dyn = dy + (n * g.OC + oc0) * P;
            for (int64_t p = olo * g.OW, q = 0; p < ohi * g.OW; p += 8) {
                __m256 xv[JN];
#pragma GCC unroll 4
                for (int jj = 0; jj < JN; ++jj) {
                    const int64_t e = q * g.KW + j0 + jj;
                    const float* xs = xb + p + (j0 + jj) * g.dw;
                    xv[jj] = pl.xfull[e] ? _mm256_loadu_ps(xs)
                                         : _mm256_maskload_ps(xs, pl.xmask[e * 2]);
                }
#pragma GCC unroll 4
                for (int r = 0; r < RO; ++r) {
                    const __m256 d = _mm256_loadu_ps(dyn + r * P + p);
#pragma GCC unroll 4
                    for (int jj = 0; jj < JN; ++jj)
                        acc[r][jj] = _mm256_fmadd_ps(d, xv[jj], acc[r][jj]);
                }
                if (++q == pl.nq) q = 0;
            }
        }
    } else {
        for (int64_t n = n0; n < n1; ++n) {
            const float* xc = x + (n * g.C + cin) * HW;
            const float* dyn = dy + (n * g.OC + oc0) * P;
            for (int64_t oh = 0; oh < g.OH; ++oh) {
                const int64_t ih = oh * g.sh - g.ph + i * g.dh;
                if (ih < 0 || ih >= g.H) continue;
                const float* xr = xc + ih * g.W;
                const float* dr = dyn + oh * g.OW;
                for (int64_t q = 0; q < pl.nq; ++q) {
                    const int64_t ow0 = q * 8;
                    const bool full = ow0 + 8 <= g.OW;
                    __m256 xv[JN];
#pragma GCC unroll 4
                    for (int jj = 0; jj < JN; ++jj)
                        xv[jj] = load_x<S>(xr, ow0 * S - g.pw + (j0 + jj) * g.dw,
                                           &pl.xmask[(q * g.KW + j0 + jj) * 2]);
#pragma GCC unroll 4
                    for (int r = 0; r < RO; ++r) {
                        const float* dp = dr + r * P + ow0;
                        const __m256 d = full ? _mm256_loadu_ps(dp)
                                              : _mm256_maskload_ps(dp, pl.dmask[q]);
#pragma GCC unroll 4
                        for (int jj = 0; jj < JN; ++jj)
                            acc[r][jj] = _mm256_fmadd_ps(d, xv[jj], acc[r][jj]);
                    }
                }
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < RO; ++r)
#pragma GCC unroll 4
        for (int jj = 0; jj < JN; ++jj) {
            float* a = accm + r * ldacc + (i * g.KW + j0 + jj) * 8;
            _mm256_storeu_ps(a, _mm256_add_ps(_mm256_loadu_ps(a), acc[r][jj]));
        }
}

template <int S, int RO>
void bwdw_tile_j(int jn, const ConvGeom& g, const BwdWPlan& pl, const float* x, const float* dy,
                 int64_t n0, int64_t n1, int64_t oc0, int64_t cin, int64_t i, int64_t j0,
                 float* accm, int64_t ldacc) {
    if (jn == 3) bwdw_tile<S, RO, 3>(g, pl, x, dy, n0, n1, oc0, cin, i, j0, accm, ldacc);
    else if (jn == 2) bwdw_tile<S, RO, 2>(g, pl, x, dy, n0, n1, oc0, cin, i, j0, accm, ldacc);
    else bwdw_tile<S, RO, 1>(g, pl, x, dy, n0, n1, oc0, cin, i, j0, accm, ldacc);
}

template <int S>
void bwdw_tile_rj(int ro, int jn, const ConvGeom& g, const BwdWPlan& pl, const float* x,
                  const float* dy, int64_t n0, int64_t n1, int64_t oc0, int64_t cin, int64_t i,
                  int64_t j0, float* accm, int64_t ldacc) {
    switch (ro) {
        case 1: bwdw_tile_j<S, 1>(jn, g, pl, x, dy, n0, n1, oc0, cin, i, j0, accm, ldacc); break;
        case 2: bwdw_tile_j<S, 2>(jn, g, pl, x, dy, n0, n1, oc0, cin, i, j0, accm, ldacc); break;
        case 3: bwdw_tile_j<S, 3>(jn, g, pl, x, dy, n0, n1, oc0, cin, i, j0, accm, ldacc); break;
        default: bwdw_tile_j<S, 4>(jn, g, pl, x, dy, n0, n1, oc0, cin, i, j0, accm, ldacc); break;
    }
}

// True when dy has a NaN or Inf in [p, p + n).
inline bool any_nonfinite(const float* p, int64_t n) {
    __m256 a = _mm256_setzero_ps();
    const __m256 z = _mm256_setzero_ps();
    int64_t t = 0;
    for (; t + 8 <= n; t += 8) a = _mm256_add_ps(a, _mm256_mul_ps(_mm256_loadu_ps(p + t), z));
    float s = simd::hsum(a);
    for (; t < n; ++t) s += p[t] * 0.f;
    return !(s == 0.f);
}

// False (nothing written) where it does not apply: stride along W other than 1 or 2, or a
// non-finite dy (skipped padding rows would drop the NaN that dy * padding-zero makes in
// version 1 and torch; version 1 then runs).
bool conv2d_backward_weight_direct(const ConvGeom& g, const float* x, const float* dy,
                                   float* dw) {
    if (g.sw != 1 && g.sw != 2) return false;
    if (g.OW > (int64_t)1 << 24 || g.W > (int64_t)1 << 24) return false;
    const int64_t KK = g.KH * g.KW, Cg = g.Cg(), OCg = g.OCg(), P = g.P();
    const int64_t wsize = g.OC * Cg * KK;
    BwdWPlan pl;
    pl.nq = (g.OW + 7) / 8;
    pl.dmask.resize(pl.nq);
    pl.xmask.resize(pl.nq * g.KW * 2);
    pl.xfull.assign(pl.nq * g.KW, 0);
    pl.flat = g.sw == 1 && g.sh == 1 && g.OW == g.W && g.OH == g.H && g.W % 8 == 0;
    for (int64_t q = 0; q < pl.nq; ++q) {
        alignas(32) int32_t dm[8], xm[16];
        for (int l = 0; l < 8; ++l) dm[l] = q * 8 + l < g.OW ? -1 : 0;
        pl.dmask[q] = _mm256_load_si256(reinterpret_cast<const __m256i*>(dm));
        for (int64_t j = 0; j < g.KW; ++j) {
            const int64_t iw0 = q * 8 * g.sw - g.pw + j * g.dw;
            for (int l = 0; l < 16; ++l) {
                // lane l of the loaded floats is input column iw0 + l; with stride 2 only the
                // even ones are kept (output lane l / 2), with stride 1 lanes 0..7.
                const int64_t iw = iw0 + l, ow = q * 8 + (g.sw == 2 ? l / 2 : l);
                const bool used = g.sw == 2 || l < 8;
                xm[l] = used && ow < g.OW && iw >= 0 && iw < g.W ? -1 : 0;
            }
            pl.xfull[q * g.KW + j] =
                g.sw == 1 && std::all_of(xm, xm + 8, [](int32_t v) { return v == -1; });
            pl.xmask[(q * g.KW + j) * 2] = _mm256_load_si256(reinterpret_cast<const __m256i*>(xm));
            pl.xmask[(q * g.KW + j) * 2 + 1] =
                _mm256_load_si256(reinterpret_cast<const __m256i*>(xm + 8));
        }
    }
    // Images per register-tile pass: about 1024 output pixels (the partials are flushed once
    // per pass).
    const int64_t nb = std::max<int64_t>(1, 1024 / std::max<int64_t>(1, P));
    const int nthreads = (int)std::max<int64_t>(1, std::min<int64_t>(max_threads(), g.N));
    std::vector<float> part((size_t)nthreads * wsize * 8, 0.f);
    int bad = 0;
#pragma omp parallel num_threads(nthreads) reduction(| : bad)
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
#else
        const int tid = 0, nt = 1;
#endif
        const int64_t lo = g.N * tid / nt, hi = g.N * (tid + 1) / nt;
        float* accm = part.data() + (size_t)tid * wsize * 8;
        for (int64_t n0 = lo; n0 < hi && !bad; n0 += nb) {
            const int64_t n1 = std::min(hi, n0 + nb);
            for (int64_t n = n0; n < n1; ++n) bad |= any_nonfinite(dy + n * g.OC * P, g.OC * P);
            if (bad) break;
            for (int64_t grp = 0; grp < g.groups; ++grp)
                for (int64_t r0 = 0; r0 < OCg; r0 += 4) {
                    const int ro = (int)std::min<int64_t>(4, OCg - r0);
                    const int64_t oc0 = grp * OCg + r0;
                    for (int64_t c = 0; c < Cg; ++c)
                        for (int64_t i = 0; i < g.KH; ++i)
                            for (int64_t j0 = 0; j0 < g.KW; j0 += 3) {
                                const int jn = (int)std::min<int64_t>(3, g.KW - j0);
                                float* a = accm + (oc0 * Cg + c) * KK * 8;
                                if (g.sw == 1)
                                    bwdw_tile_rj<1>(ro, jn, g, pl, x, dy, n0, n1, oc0,
                                                    grp * Cg + c, i, j0, a, Cg * KK * 8);
                                else
                                    bwdw_tile_rj<2>(ro, jn, g, pl, x, dy, n0, n1, oc0,
                                                    grp * Cg + c, i, j0, a, Cg * KK * 8);
                            }
                }
        }
    }
    if (bad) return false;
#pragma omp parallel for schedule(static) if (wsize >= 4096)
    for (int64_t e = 0; e < wsize; ++e) {
        float s = 0.f;
        for (int t = 0; t < nthreads; ++t) {
            const float* a = part.data() + ((size_t)t * wsize + e) * 8;
            s += ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
        }
        dw[e] = s;
    }
    return true;
}
#else
bool conv2d_backward_weight_direct(const ConvGeom&, const float*, const float*, float*) {
    return false;
}
#endif

void conv2d_backward_weight_f32(const ConvGeom& g, const float* x, const float* dy, float* dw,
                                float* db, Impl impl) {
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
    // "auto" is version 1: see the header's measurements of version 4.
    if (impl == Impl::V4 && conv2d_backward_weight_direct(g, x, dy, dw)) return;
    const bool direct = g.pointwise();
    // At least 256 pixels of reduction per sgemm call: each call reads and writes all of dW_g,
    // and at 64 pixels that traffic cost 15-20% (2026-12-01, Zen 3, 1 thread, RN64/RN128/RN256:
    // 42-49 GFLOP/s at 64 pixels, 52-61 at 256; no gain past 256).
    // Small images (P < 256): an item takes ipi whole images, their dY rows copied side by side,
    // so the reduction still runs over >= 256 pixels (CNN2 12x12, RN256 14x14, RN512 7x7).
    const int64_t PT = std::min(P, std::max<int64_t>(tile_cols(g), 256));
    const int64_t ntiles = (P + PT - 1) / PT;
    int64_t ipi = 1;
    if (!direct && P < 256) {
        ipi = std::min<int64_t>(g.N, (256 + P - 1) / P);
        while (ipi > 1 && G * ((g.N + ipi - 1) / ipi) < 2 * max_threads()) --ipi;
    }
    const int64_t nimg = (g.N + ipi - 1) / ipi;  // image groups
    const int64_t items = nimg * G * ntiles;
    const int nthreads = (int)std::max<int64_t>(1, std::min<int64_t>(max_threads(), items));
    // Transposed (tr): dW_g^T (K x OCg) += col_tile (K x cols) . dY_tile^T, so sgemm packs the
    // OCg x cols dY tile (its B) instead of the K x cols im2col tile: K/OCg times less packing.
    // The price is a transposing reduction of the per-thread dW^T sums, paid once per call, so
    // it runs when the reduction is deep: N*OH*OW >= 4096 pixels. Both orders accumulate each
    // element over the same pixels in the same order (bitwise equal results). 2026-12-01, Zen 3,
    // 1 thread, thread CPU time, GFLOP/s plain -> tr: CNN1 18.5 -> 20.6, CNN2 35.8 -> 36.7,
    // RN64 54.9 -> 60.4, RN128 69.1 -> 74.4, RN256 55.8 -> 53.8, RN512 53.5 -> 33.5; 2 threads
    // wall RN64 95 -> 106, RN256 106 -> 89.
    const bool tr = g.N * P >= 4096;
    // Thread 0 accumulates straight into dw (plain) or every thread into its own dW^T (tr);
    // partial sums are reduced below.
    std::vector<float> partial((size_t)(nthreads - (tr ? 0 : 1)) * wsize, 0.f);
#pragma omp parallel num_threads(nthreads)
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num();
#else
        const int tid = 0;
#endif
        float* acc = tr ? partial.data() + (int64_t)tid * wsize
                        : tid == 0 ? dw : partial.data() + (int64_t)(tid - 1) * wsize;
        const int64_t ld = ipi * PT;  // columns of the col / dY tiles
        std::vector<float> col(direct ? 0 : K * ld), dyb(ipi > 1 ? OCg * ld : 0);
        // Static blocks of consecutive items: one thread mostly stays on one group's dW block.
#pragma omp for schedule(static)
        for (int64_t it = 0; it < items; ++it) {
            const int64_t t = it % ntiles, ng = it / ntiles, grp = ng % G, ni = ng / G;
            const int64_t p0 = t * PT, pt = std::min(PT, P - p0);
            const int64_t n0 = ni * ipi, cnt = std::min(ipi, g.N - n0);
            const float* A;
            const float* B;
            int64_t lda, ldb;
            if (direct) {
                A = dy + (n0 * g.OC + grp * OCg) * P + p0;
                lda = P;
                B = x + (n0 * g.C + grp * g.Cg()) * g.H * g.W + p0;
                ldb = P;
            } else if (ipi == 1) {
                A = dy + (n0 * g.OC + grp * OCg) * P + p0;
                lda = P;
                im2col_tile(g, x + (n0 * g.C + grp * g.Cg()) * g.H * g.W, p0, pt, col.data(), ld);
                B = col.data();
                ldb = ld;
            } else {
                for (int64_t i = 0; i < cnt; ++i) {
                    const int64_t n = n0 + i;
                    im2col_tile(g, x + (n * g.C + grp * g.Cg()) * g.H * g.W, 0, P,
                                col.data() + i * P, ld);
                    for (int64_t oc = 0; oc < OCg; ++oc)
                        std::memcpy(dyb.data() + oc * ld + i * P,
                                    dy + (n * g.OC + grp * OCg + oc) * P, sizeof(float) * P);
                }
                A = dyb.data();
                lda = ld;
                B = col.data();
                ldb = ld;
            }
            // dW_g (OCg x K) += dY_tile (OCg x cols) . col_tile^T (cols x K)
            const int64_t cols = ipi == 1 ? pt : cnt * P;
            if (tr)
                sgemm(false, true, K, OCg, cols, 1.f, B, ldb, A, lda, 1.f, acc + grp * OCg * K,
                      OCg, nullptr, Act::None, false);
            else
                sgemm(false, true, OCg, K, cols, 1.f, A, lda, B, ldb, 1.f, acc + grp * OCg * K, K,
                      nullptr, Act::None, false);
        }
    }
    if (tr) {
        for (int t = 0; t < nthreads; ++t) {
            const float* src = partial.data() + (int64_t)t * wsize;
            for (int64_t grp = 0; grp < G; ++grp)
                for (int64_t k = 0; k < K; ++k)
                    for (int64_t oc = 0; oc < OCg; ++oc)
                        dw[(grp * OCg + oc) * K + k] += src[(grp * K + k) * OCg + oc];
        }
        return;
    }
    for (int t = 1; t < nthreads; ++t) {
        const float* src = partial.data() + (int64_t)(t - 1) * wsize;
        for (int64_t i = 0; i < wsize; ++i) dw[i] += src[i];
    }
}

}  // namespace fastnn

// ------------------------------------------------------------------------------------ bindings

namespace {

using fastnn::ConvGeom;
using fastnn::pair_arg;
using fastnn::shape_arg;
using fastnn::shape_of;

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

py::array forward_py(py::array x, py::array w, py::object bias, py::object stride,
                     py::object padding, py::object dilation, int64_t groups,
                     py::object activation, const std::string& version) {
    using namespace fastnn;
    check_f32(x, "x", 4);
    check_f32(w, "w", 4);
    ConvGeom g = make_geom(shape_of(x), shape_of(w), stride, padding, dilation, groups);
    const Impl impl = parse_impl(version);
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
        conv2d_forward_f32(g, xp, wp, bias_p, relu, yp, impl);
    }
    return y;
}

py::array backward_input_py(py::array grad_out, py::array w, py::object input_shape,
                            py::object stride, py::object padding, py::object dilation,
                            int64_t groups, const std::string& version) {
    using namespace fastnn;
    check_f32(grad_out, "grad_out", 4);
    check_f32(w, "w", 4);
    ConvGeom g = make_geom(shape_arg(input_shape, "input_shape"), shape_of(w), stride, padding,
                           dilation, groups);
    const Impl impl = parse_impl(version);
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
        conv2d_backward_input_f32(g, dyp, wp, dxp, impl);
    }
    return dx;
}

py::tuple backward_weight_py(py::array x, py::array grad_out, py::object weight_shape,
                             py::object stride, py::object padding, py::object dilation,
                             int64_t groups, bool need_bias, const std::string& version) {
    using namespace fastnn;
    const Impl impl = parse_impl_bwdw(version);
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
        conv2d_backward_weight_f32(g, xp, dyp, dwp, dbp, impl);
    }
    return py::make_tuple(dw, db);
}

}  // namespace

void register_conv2d(py::module_& m) {
    m.def("conv2d_forward", &forward_py, py::arg("x"), py::arg("w"), py::arg("bias"),
          py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups"),
          py::arg("activation"), py::arg("version") = "auto",
          "NCHW float32 conv2d with fused bias and optional ReLU (see fastnn.backends.contract).");
    m.def("conv2d_backward_input", &backward_input_py, py::arg("grad_out"), py::arg("w"),
          py::arg("input_shape"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
          py::arg("groups"), py::arg("version") = "auto",
          "Gradient of conv2d_forward with respect to x.");
    m.def("conv2d_backward_weight", &backward_weight_py, py::arg("x"), py::arg("grad_out"),
          py::arg("weight_shape"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
          py::arg("groups"), py::arg("need_bias"), py::arg("version") = "auto",
          "Gradients of conv2d_forward with respect to w and bias: (grad_w, grad_bias or None).");
}
