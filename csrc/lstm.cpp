// LSTM cell and sequence kernels, float32, forward and backward (PyTorch gate order i, f, g, o).
//
// Algorithm
//   sequence forward: G = X W_ih^T + (b_ih + b_hh) for all T steps in one (T*B) x I x 4H sgemm
//     (bias fused in the epilogue); W_hh packed once per call into 16-column panels (see "the
//     recurrent product" below); then per step G_t += h_{t-1} W_hh^T from the packed panels and
//     ONE fused pointwise pass that activates the gates in place (they are the saved `gates`)
//     and writes c_t and h_t. No per-gate temporaries.
//   sequence backward: per step one fused pointwise pass (dG_t and dc_{t-1}) and one product
//     dh_{t-1} = dG_t W_hh (packed once per call); at the end the weight gradients as GEMMs over
//     all T*B rows: dX = dG W_ih, dW_ih = dG^T X, dW_hh = dG_0^T h0 + dG_{1:}^T Y_{:-1}; db is
//     summed inside the pointwise pass (per-thread partials), so dG is written once.
//   Threads split the batch rows (no barrier: rows recur independently; each thread streams
//   the whole packed W_hh) when each gets >= 4 rows; below that they split the hidden units
//   (chunks of 16): a thread computes the four gates' columns of its units, runs their pointwise
//   pass, reads only its share of W_hh, and meets the others at one barrier per step. Either
//   way the results do not depend on the thread count (but db's per-thread partials).
//   sigmoid/tanh are branch-free polynomials (Cephes expf, Eigen's rational tanh) that GCC
//   vectorises under `omp simd` at every ISA level; max relative error ~3e-7 (tests check 2e-6).
//
// Versions (ratio vs torch CPU; docs/benchmarks.md results table)
//   version  idea                                     measured                           date
//   1        hoisted input-projection sgemm, fused    Zen 3 AVX2 T100 B64: I64 H128 fwd  2026-11-23
//            pointwise pass, batch-sliced threads,    1.23x, bwd 1.22x; I512 H512 fwd
//            W_hh transposed once per sequence        0.95x, bwd 0.89x
//   2 (now)  W_hh packed once per call (per-step      Zen 3 AVX2, nn.LSTM fwd+bwd,       2026-12-06
//            sgemm re-packed it every step), own      1 thread: B16 T50 I512 H512 0.87x
//            16-column kernel                         -> 1.17-1.25x, B20 T30 I128 H1024
//                                                     0.83-0.96x -> 1.14-1.19x (loaded)
#include <algorithm>
#include <array>
#include <cstdint>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "common.h"
#include "gemm.h"
#include "simd.h"

namespace fastnn {
namespace {

// exp(x), Cephes expf: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial, scaled by 2^n built in
// the exponent bits. NaN propagates; the clamp keeps 2^n finite and normal.
inline float fexp(float x) {
    x = x > 88.0f ? 88.0f : x;
    x = x < -87.0f ? -87.0f : x;
    const float magic = 12582912.0f;  // 1.5 * 2^23: adding and subtracting rounds to an integer
    float n = (x * 1.44269504088896341f + magic) - magic;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

inline float fsigmoid(float x) { return 1.0f / (1.0f + fexp(-x)); }

// tanh(x): Eigen's float rational approximation (odd degree 13 / even degree 6) on [-7.9, 7.9].
inline float ftanh(float x) {
    const float lim = 7.90531110763549805f;
    float xc = x > lim ? lim : x;
    xc = xc < -lim ? -lim : xc;
    const float x2 = xc * xc;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * xc;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    float t = p / q;
    t = t > 1.0f ? 1.0f : t;
    t = t < -1.0f ? -1.0f : t;
    return std::fabs(x) < 0.0004f ? x : t;
}

// Rows of one step, hidden units [j0, j1): G (rows, 4H) pre-activations in, activated gates out
// (in place); c_t = f*c_prev + i*g, h_t = o*tanh(c_t).
void pointwise_forward(int64_t rows, int64_t H, int64_t j0, int64_t j1, float* G,
                       const float* c_prev, float* c_out, float* h_out) {
    for (int64_t r = 0; r < rows; ++r) {
        float* gi = G + r * 4 * H;
        float* gf = gi + H;
        float* gg = gi + 2 * H;
        float* go = gi + 3 * H;
        const float* cp = c_prev + r * H;
        float* cn = c_out + r * H;
        float* hn = h_out + r * H;
#pragma omp simd
        for (int64_t j = j0; j < j1; ++j) {
            const float i = fsigmoid(gi[j]), f = fsigmoid(gf[j]), g = ftanh(gg[j]),
                        o = fsigmoid(go[j]);
            gi[j] = i;
            gf[j] = f;
            gg[j] = g;
            go[j] = o;
            const float c = f * cp[j] + i * g;
            cn[j] = c;
            hn[j] = o * ftanh(c);
        }
    }
}

// Rows of one step backward, hidden units [j0, j1): dh (+ gy when given) flows into h_t, dc into
// c_t (updated in place to the gradient w.r.t. c_{t-1}); writes the pre-activation gate gradient
// dG (rows, 4H) and adds its column sums into db (4H): the bias gradient costs no second pass.
void pointwise_backward(int64_t rows, int64_t H, int64_t j0, int64_t j1, const float* dh,
                        const float* gy, float* dc, const float* c_prev, const float* c_new,
                        const float* gates, float* dG, float* db) {
    for (int64_t r = 0; r < rows; ++r) {
        const float* a = gates + r * 4 * H;
        float* d = dG + r * 4 * H;
        const float* dhr = dh + r * H;
        const float* gyr = gy ? gy + r * H : nullptr;
        float* dcr = dc + r * H;
        const float* cp = c_prev + r * H;
        const float* cn = c_new + r * H;
#pragma omp simd
        for (int64_t j = j0; j < j1; ++j) {
            const float i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
            const float tc = ftanh(cn[j]);
            const float dhj = gyr ? dhr[j] + gyr[j] : dhr[j];
            const float dcj = dcr[j] + dhj * o * (1.0f - tc * tc);
            const float di = dcj * g * i * (1.0f - i), df = dcj * cp[j] * f * (1.0f - f),
                        dg = dcj * i * (1.0f - g * g), dO = dhj * tc * o * (1.0f - o);
            d[j] = di;
            d[H + j] = df;
            d[2 * H + j] = dg;
            d[3 * H + j] = dO;
            db[j] += di;
            db[H + j] += df;
            db[2 * H + j] += dg;
            db[3 * H + j] += dO;
            dcr[j] = dcj * f;
        }
    }
}

// Per-thread bias-gradient partials (nt x N, zeroed), summed into db at the end.
struct BiasPartials {
    int64_t N;
    std::vector<float> part;
    BiasPartials(int nt, int64_t n) : N(n), part((size_t)nt * n, 0.0f) {}
    float* of(int tid) { return part.data() + (int64_t)tid * N; }
    void sum_into(float* db) const {
        std::fill(db, db + N, 0.0f);
        for (size_t t = 0; t < part.size() / std::max<int64_t>(N, 1); ++t)
            for (int64_t j = 0; j < N; ++j) db[j] += part[t * N + j];
    }
};

inline int thread_id() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

// Uninitialised float scratch (a std::vector would first zero it: a full extra pass over memory).
inline std::unique_ptr<float[]> scratch(int64_t n) {
    return std::unique_ptr<float[]>(new float[(size_t)std::max<int64_t>(n, 1)]);
}

// Threads for a recurrence over B independent rows (each needs enough rows to be worth it).
int batch_threads(int64_t B) {
    return (int)std::max<int64_t>(1, std::min<int64_t>(max_threads(), B / 4));
}

struct Slice {
    int64_t b0, b1;
};

inline Slice my_rows(int64_t B) {
#ifdef _OPENMP
    const int64_t tid = omp_get_thread_num(), n = omp_get_num_threads();
#else
    const int64_t tid = 0, n = 1;
#endif
    return {B * tid / n, B * (tid + 1) / n};
}

// ---------------------------------------------------------------- the recurrent product
// Per step the recurrence multiplies the batch's state (B rows, B ~ 16..64) by W_hh. sgemm packs
// its B operand on every call (AVX2 reads B in place nowhere), so a per-step sgemm re-packed the
// whole W_hh at every step; here W_hh is packed ONCE per sequence call into NR-column panels
// (K x NR, row p at p*NR, 64-byte aligned, zero-padded) and every step streams the panels.
// Panels are grouped by hidden unit: chunk u (hidden units [u*NR, u*NR+NR)) owns the panels of
// the four gates' columns (forward) or of dh's columns (backward), so the threads split the
// hidden units (each thread reads only its share of W_hh, which stays in its L2/the L3), and a
// thread's pointwise pass needs only the columns it computed: one barrier per step.

constexpr int64_t kRecKC = 256;  // depth of a pass: B rows x 256 of A stay in L1 across panels

struct Packed {
    int64_t K = 0, n = 0;          // depth, panels
    int64_t per_chunk = 1;         // panels per chunk of hidden units (4 forward, 1 backward)
    const float* data = nullptr;
    std::vector<int64_t> col0;     // first column of each panel in C
    std::vector<int> width;        // valid columns of each panel (1..NR)
    const float* panel(int64_t q) const { return data + q * K * simd::NR; }
};

// A grow-only, 64-byte aligned float buffer of the calling thread (slot: one per use).
float* aligned_workspace(int slot, size_t n) {
    static thread_local std::vector<float> ws[2];
    std::vector<float>& v = ws[slot];
    if (v.size() < n + 16) {
        v = std::vector<float>();  // release first: no old + new peak
        v.resize(n + 16);
    }
    const uintptr_t p = (reinterpret_cast<uintptr_t>(v.data()) + 63) & ~uintptr_t(63);
    return reinterpret_cast<float*>(p);
}

inline int64_t chunks_of(int64_t H) { return (H + simd::NR - 1) / simd::NR; }

// W_hh (4H, H) as the K = H x N = 4H operand W_hh^T of h W_hh^T (forward, per_chunk 4: panel
// 4u + k holds gate k's columns of chunk u) or as the K = 4H x N = H operand of dG W_hh
// (backward, per_chunk 1).
Packed pack_w_hh(const float* Wh, int64_t H, bool forward) {
    constexpr int64_t NR = simd::NR;
    Packed P;
    const int64_t U = chunks_of(H);
    P.per_chunk = forward ? 4 : 1;
    P.K = forward ? H : 4 * H;
    P.n = U * P.per_chunk;
    P.col0.resize((size_t)P.n);
    P.width.resize((size_t)P.n);
    for (int64_t u = 0; u < U; ++u)
        for (int64_t k = 0; k < P.per_chunk; ++k) {
            P.col0[u * P.per_chunk + k] = k * H + u * NR;
            P.width[u * P.per_chunk + k] = (int)std::min<int64_t>(NR, H - u * NR);
        }
    float* data = aligned_workspace(forward ? 0 : 1, (size_t)(P.n * P.K * NR));
    P.data = data;
    const int64_t K = P.K, n = P.n;
#pragma omp parallel for schedule(static) if (n * K * NR >= (1 << 16))
    for (int64_t q = 0; q < n; ++q) {
        float* d = data + q * K * NR;
        const int64_t c0 = P.col0[q], w = P.width[q];
        if (forward) {  // d[p, c] = W_hh[c0 + c, p]: rows of W_hh scattered 8 at a time
            constexpr int64_t PB = 64;
            for (int64_t p0 = 0; p0 < K; p0 += PB) {
                const int64_t p1 = std::min(K, p0 + PB);
                for (int64_t c = 0; c < NR; ++c) {
                    if (c < w) {
                        const float* src = Wh + (c0 + c) * H;
                        for (int64_t p = p0; p < p1; ++p) d[p * NR + c] = src[p];
                    } else {
                        for (int64_t p = p0; p < p1; ++p) d[p * NR + c] = 0.0f;
                    }
                }
            }
        } else {  // d[p, c] = W_hh[p, c0 + c]
            for (int64_t p = 0; p < K; ++p) {
                std::memcpy(d + p * NR, Wh + p * H + c0, sizeof(float) * w);
                std::fill(d + p * NR + w, d + (p + 1) * NR, 0.0f);
            }
        }
    }
    return P;
}

// One ROWS x (NVEC*W) tile over depth kc: C (+)= A B, A read in place (rows lda apart), B a
// packed panel; cols valid columns (the last vector masked).
template <int ROWS, int NVEC>
void rec_kernel(int64_t kc, const float* __restrict a, int64_t lda, const float* __restrict b,
                float* __restrict c, int64_t ldc, int cols, bool load_c) {
    using namespace simd;
    vf acc[ROWS][NVEC];
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 8
        for (int v = 0; v < NVEC; ++v) acc[r][v] = zero();
#pragma GCC unroll 4
    for (int64_t p = 0; p < kc; ++p) {
        vf bv[NVEC];
#pragma GCC unroll 8
        for (int v = 0; v < NVEC; ++v) bv[v] = load(b + p * NR + v * W);
#pragma GCC unroll 16
        for (int r = 0; r < ROWS; ++r) {
            const vf av = set1(a[r * lda + p]);
#pragma GCC unroll 8
            for (int v = 0; v < NVEC; ++v) acc[r][v] = fmadd(av, bv[v], acc[r][v]);
        }
    }
    const int tail = cols - (NVEC - 1) * W;
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 8
        for (int v = 0; v < NVEC; ++v) {
            const int n = v + 1 < NVEC ? W : tail;
            float* cr = c + r * ldc + v * W;
            storeu_n(cr, load_c ? add(loadu_n(cr, n), acc[r][v]) : acc[r][v], n);
        }
}

using RecKernel = void (*)(int64_t, const float*, int64_t, const float*, float*, int64_t, int,
                           bool);
using RecTable = std::array<std::array<RecKernel, simd::NV>, simd::MR>;

template <int R, int... V>
constexpr std::array<RecKernel, simd::NV> rec_row(std::integer_sequence<int, V...>) {
    return {&rec_kernel<R, V + 1>...};
}
template <int... R>
constexpr RecTable rec_table(std::integer_sequence<int, R...>) {
    return {rec_row<R + 1>(std::make_integer_sequence<int, simd::NV>{})...};
}
constexpr RecTable kRecKernels = rec_table(std::make_integer_sequence<int, simd::MR>{});

// Rows of the next row panel (gemm.cpp's rule: no 1..3-row AVX2 tile where it can be avoided).
inline int64_t rec_panel_rows(int64_t left) {
    constexpr bool split = 2 * simd::NV < 8;
    if (split && left > simd::MR && left < simd::MR + 4) return (left + 1) / 2;
    return std::min<int64_t>(simd::MR, left);
}

// C[:M, the columns of chunks u0..u1] (+)= A[:M, :K] P (accumulate: onto C's contents).
void rec_product(int64_t M, const float* A, int64_t lda, const Packed& P, int64_t u0, int64_t u1,
                 float* C, int64_t ldc, bool accumulate) {
    const int64_t q0 = u0 * P.per_chunk, q1 = u1 * P.per_chunk, K = P.K;
    if (M <= 0 || q1 <= q0) return;
    if (K == 0) {
        if (!accumulate)
            for (int64_t q = q0; q < q1; ++q)
                for (int64_t i = 0; i < M; ++i)
                    std::fill(C + i * ldc + P.col0[q], C + i * ldc + P.col0[q] + P.width[q], 0.f);
        return;
    }
    const int64_t nk = (K + kRecKC - 1) / kRecKC, kcb = (K + nk - 1) / nk;
    for (int64_t pc = 0; pc < K; pc += kcb) {
        const int64_t kc = std::min(kcb, K - pc);
        const bool load = accumulate || pc > 0;
        for (int64_t q = q0; q < q1; ++q) {
            const float* b = P.panel(q) + pc * simd::NR;
            const int w = P.width[q], nv = (w + simd::W - 1) / simd::W;
            float* c = C + P.col0[q];
            int64_t rows;
            for (int64_t i = 0; i < M; i += rows) {
                rows = rec_panel_rows(M - i);
                kRecKernels[rows - 1][nv - 1](kc, A + i * lda + pc, lda, b, c + i * ldc, ldc, w,
                                              load);
            }
        }
    }
}

// Threads for the recurrence: split over chunks of hidden units, from ~1 MFLOP per step (below
// that the per-step barrier costs more than the split saves).
int rec_threads(int64_t B, int64_t H) {
    const double flops = 2.0 * (double)B * 4.0 * (double)H * (double)H;
    if (flops < 1e6) return 1;
    return (int)std::max<int64_t>(1, std::min<int64_t>(max_threads(), chunks_of(H)));
}

inline int64_t chunk_lo(int64_t U, int tid, int n) { return U * tid / n; }

// Split the batch instead (no barrier: the rows' recurrences are independent) where every thread
// gets >= 4 rows: each thread then streams all of the packed W_hh, but meets no barrier, and on
// the shared 2-core machine the barrier decided it (nn.LSTM fwd+bwd, 2 threads, load ~5, one
// process, interleaved: B16 T50 I512 H512 rows 192 ms vs units 316 ms; B20 T30 I128 H1024 232
// vs 348 ms). The units split remains for small batches (B < 8 on 2 threads).
// FASTNN_LSTM_SPLIT=rows / units overrides the choice (for timing both on a quiet machine).
inline bool rec_by_rows(int64_t B, int64_t H, int nt) {
    if (nt <= 1) return false;
    if (const char* e = std::getenv("FASTNN_LSTM_SPLIT")) {
        if (std::strcmp(e, "rows") == 0) return B >= nt;
        if (std::strcmp(e, "units") == 0) return false;
    }
    return B >= 4 * nt;
}

// This thread's share of a step: rows [r0, r1) and hidden chunks [u0, u1) (units [j0, j1)).
struct Share {
    int64_t r0, r1, u0, u1, j0, j1;
    bool by_rows;
};

inline Share my_share(int64_t B, int64_t H) {
#ifdef _OPENMP
    const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
#else
    const int tid = 0, nth = 1;
#endif
    const int64_t U = chunks_of(H);
    Share s{0, B, 0, U, 0, H, rec_by_rows(B, H, nth)};
    if (s.by_rows) {
        s.r0 = B * tid / nth;
        s.r1 = B * (tid + 1) / nth;
    } else {
        s.u0 = chunk_lo(U, tid, nth);
        s.u1 = chunk_lo(U, tid + 1, nth);
        s.j0 = std::min(H, s.u0 * simd::NR);
        s.j1 = std::min(H, s.u1 * simd::NR);
    }
    return s;
}

struct Dims {
    int64_t B, I, H;
};

// Checks x (.., B, I), w_ih (4H, I), w_hh (4H, H) and returns the sizes.
Dims check_weights(const py::array& x, int x_ndim, const py::array& w_ih, const py::array& w_hh) {
    check_f32(x, "x", x_ndim);
    check_f32(w_ih, "w_ih", 2);
    check_f32(w_hh, "w_hh", 2);
    const int64_t H = w_hh.shape(1);
    check_dim(w_hh, "w_hh", 0, 4 * H);
    check_dim(w_ih, "w_ih", 0, 4 * H);
    const int64_t I = w_ih.shape(1);
    check_dim(x, "x", x_ndim - 1, I);
    return {x.shape(x_ndim - 2), I, H};
}

void check_state(const py::array& a, const char* name, int64_t B, int64_t H) {
    check_f32(a, name, 2);
    check_dim(a, name, 0, B);
    check_dim(a, name, 1, H);
}

void check_seq(const py::array& a, const char* name, int64_t T, int64_t B, int64_t N) {
    check_f32(a, name, 3);
    check_dim(a, name, 0, T);
    check_dim(a, name, 1, B);
    check_dim(a, name, 2, N);
}

// b_ih + b_hh (either may be None); empty when both are None.
std::vector<float> combined_bias(const py::object& b_ih, const py::object& b_hh, int64_t n) {
    const float* a = opt_ptr(b_ih, "b_ih", n);
    const float* b = opt_ptr(b_hh, "b_hh", n);
    std::vector<float> out;
    if (!a && !b) return out;
    out.assign((size_t)n, 0.0f);
    for (int64_t j = 0; j < n; ++j) out[j] = (a ? a[j] : 0.0f) + (b ? b[j] : 0.0f);
    return out;
}

py::tuple cell_forward(py::array x, py::array h, py::array c, py::array w_ih, py::array w_hh,
                       py::object b_ih, py::object b_hh) {
    const Dims d = check_weights(x, 2, w_ih, w_hh);
    const int64_t B = d.B, I = d.I, H = d.H;
    check_state(h, "h", B, H);
    check_state(c, "c", B, H);
    std::vector<float> bias = combined_bias(b_ih, b_hh, 4 * H);
    py::array_t<float> h_new = empty_f32({B, H}), c_new = empty_f32({B, H}),
                       gates = empty_f32({B, 4 * H});
    const float *X = fptr(x), *Hp = fptr(h), *Cp = fptr(c), *Wi = fptr(w_ih), *Wh = fptr(w_hh);
    float *G = fptr_mut(gates), *Hn = fptr_mut(h_new), *Cn = fptr_mut(c_new);
    const float* bp = bias.empty() ? nullptr : bias.data();
    {
        py::gil_scoped_release nogil;
        sgemm(false, true, B, 4 * H, I, 1.0f, X, I, Wi, I, 0.0f, G, 4 * H, bp);
        sgemm(false, true, B, 4 * H, H, 1.0f, Hp, H, Wh, H, 1.0f, G, 4 * H);
#pragma omp parallel num_threads(batch_threads(B))
        {
            const Slice s = my_rows(B);
            pointwise_forward(s.b1 - s.b0, H, 0, H, G + s.b0 * 4 * H, Cp + s.b0 * H,
                              Cn + s.b0 * H, Hn + s.b0 * H);
        }
    }
    return py::make_tuple(h_new, c_new, gates);
}

py::tuple cell_backward(py::array grad_h, py::array grad_c, py::array x, py::array h, py::array c,
                        py::array c_new, py::array gates, py::array w_ih, py::array w_hh) {
    const Dims d = check_weights(x, 2, w_ih, w_hh);
    const int64_t B = d.B, I = d.I, H = d.H;
    check_state(grad_h, "grad_h", B, H);
    check_state(grad_c, "grad_c", B, H);
    check_state(h, "h", B, H);
    check_state(c, "c", B, H);
    check_state(c_new, "c_new", B, H);
    check_f32(gates, "gates", 2);
    check_dim(gates, "gates", 0, B);
    check_dim(gates, "gates", 1, 4 * H);
    py::array_t<float> gx = empty_f32({B, I}), gh = empty_f32({B, H}), gc = empty_f32({B, H}),
                       gwi = empty_f32({4 * H, I}), gwh = empty_f32({4 * H, H}),
                       gb = empty_f32({4 * H});
    const float *dH = fptr(grad_h), *dC = fptr(grad_c), *X = fptr(x), *Hp = fptr(h),
                *Cp = fptr(c), *Cn = fptr(c_new), *A = fptr(gates), *Wi = fptr(w_ih),
                *Wh = fptr(w_hh);
    float *GX = fptr_mut(gx), *GH = fptr_mut(gh), *GC = fptr_mut(gc), *GWI = fptr_mut(gwi),
          *GWH = fptr_mut(gwh), *GB = fptr_mut(gb);
    {
        py::gil_scoped_release nogil;
        auto dG = scratch(B * 4 * H);
        std::memcpy(GC, dC, sizeof(float) * B * H);
        const int nt = batch_threads(B);
        BiasPartials db(nt, 4 * H);
#pragma omp parallel num_threads(nt)
        {
            const Slice s = my_rows(B);
            pointwise_backward(s.b1 - s.b0, H, 0, H, dH + s.b0 * H, nullptr, GC + s.b0 * H,
                               Cp + s.b0 * H, Cn + s.b0 * H, A + s.b0 * 4 * H,
                               dG.get() + s.b0 * 4 * H, db.of(thread_id()));
        }
        sgemm(false, false, B, I, 4 * H, 1.0f, dG.get(), 4 * H, Wi, I, 0.0f, GX, I);
        sgemm(false, false, B, H, 4 * H, 1.0f, dG.get(), 4 * H, Wh, H, 0.0f, GH, H);
        sgemm(true, false, 4 * H, I, B, 1.0f, dG.get(), 4 * H, X, I, 0.0f, GWI, I);
        sgemm(true, false, 4 * H, H, B, 1.0f, dG.get(), 4 * H, Hp, H, 0.0f, GWH, H);
        db.sum_into(GB);
    }
    return py::make_tuple(gx, gh, gc, gwi, gwh, gb);
}

py::tuple sequence_forward(py::array x, py::array h0, py::array c0, py::array w_ih,
                           py::array w_hh, py::object b_ih, py::object b_hh) {
    const Dims d = check_weights(x, 3, w_ih, w_hh);
    const int64_t T = x.shape(0), B = d.B, I = d.I, H = d.H;
    check_state(h0, "h0", B, H);
    check_state(c0, "c0", B, H);
    std::vector<float> bias = combined_bias(b_ih, b_hh, 4 * H);
    py::array_t<float> y = empty_f32({T, B, H}), hn = empty_f32({B, H}), cn = empty_f32({B, H}),
                       cs = empty_f32({T, B, H}), gates = empty_f32({T, B, 4 * H});
    const float *X = fptr(x), *H0 = fptr(h0), *C0 = fptr(c0), *Wi = fptr(w_ih),
                *Wh = fptr(w_hh);
    float *Y = fptr_mut(y), *HN = fptr_mut(hn), *CN = fptr_mut(cn), *CS = fptr_mut(cs),
          *G = fptr_mut(gates);
    const float* bp = bias.empty() ? nullptr : bias.data();
    {
        py::gil_scoped_release nogil;
        sgemm(false, true, T * B, 4 * H, I, 1.0f, X, I, Wi, I, 0.0f, G, 4 * H, bp);
        if (T == 1) {
            // One step (a sampling loop feeds one token at a time): G += h0 W_hh^T straight
            // from W_hh (sgemm's in-register transposes while packing; threads split the 4H
            // columns), then the pointwise pass. Transposing W_hh first cost more than the step:
            // H = 1024, B = 1: 34 -> 8 ms CPU per tut-lm sampling step (shared 2-core machine,
            // load ~20; torch 24 ms; /tmp/c19/lm_sample.py in the issue-19 report).
            sgemm(false, true, B, 4 * H, H, 1.0f, H0, H, Wh, H, 1.0f, G, 4 * H);
            pointwise_forward(B, H, 0, H, G, C0, CS, Y);
        } else {
            const Packed P = pack_w_hh(Wh, H, true);
#pragma omp parallel num_threads(rec_threads(B, H))
            {
                const Share m = my_share(B, H);
                const int64_t rows = m.r1 - m.r0;
                for (int64_t t = 0; t < T; ++t) {
                    const float* hp = (t ? Y + (t - 1) * B * H : H0) + m.r0 * H;
                    const float* cp = (t ? CS + (t - 1) * B * H : C0) + m.r0 * H;
                    const int64_t o = t * B + m.r0;
                    float* Gt = G + o * 4 * H;
                    rec_product(rows, hp, H, P, m.u0, m.u1, Gt, 4 * H, true);
                    pointwise_forward(rows, H, m.j0, m.j1, Gt, cp, CS + o * H, Y + o * H);
                    if (!m.by_rows) {
#pragma omp barrier
                    }
                }
            }
        }
        std::memcpy(HN, T ? Y + (T - 1) * B * H : H0, sizeof(float) * B * H);
        std::memcpy(CN, T ? CS + (T - 1) * B * H : C0, sizeof(float) * B * H);
    }
    return py::make_tuple(y, hn, cn, cs, gates);
}

py::tuple sequence_backward(py::array grad_y, py::array grad_hn, py::array grad_cn, py::array x,
                            py::array h0, py::array c0, py::array w_ih, py::array w_hh,
                            py::array y, py::array cs, py::array gates) {
    const Dims d = check_weights(x, 3, w_ih, w_hh);
    const int64_t T = x.shape(0), B = d.B, I = d.I, H = d.H;
    check_state(grad_hn, "grad_hn", B, H);
    check_state(grad_cn, "grad_cn", B, H);
    check_state(h0, "h0", B, H);
    check_state(c0, "c0", B, H);
    check_seq(grad_y, "grad_y", T, B, H);
    check_seq(y, "y", T, B, H);
    check_seq(cs, "cs", T, B, H);
    check_seq(gates, "gates", T, B, 4 * H);
    py::array_t<float> gx = empty_f32({T, B, I}), gh0 = empty_f32({B, H}),
                       gc0 = empty_f32({B, H}), gwi = empty_f32({4 * H, I}),
                       gwh = empty_f32({4 * H, H}), gb = empty_f32({4 * H});
    const float *GY = fptr(grad_y), *GHN = fptr(grad_hn), *GCN = fptr(grad_cn), *X = fptr(x),
                *H0 = fptr(h0), *C0 = fptr(c0), *Wi = fptr(w_ih), *Wh = fptr(w_hh), *Y = fptr(y),
                *CS = fptr(cs), *A = fptr(gates);
    float *GX = fptr_mut(gx), *DH = fptr_mut(gh0), *DC = fptr_mut(gc0), *GWI = fptr_mut(gwi),
          *GWH = fptr_mut(gwh), *GB = fptr_mut(gb);
    {
        py::gil_scoped_release nogil;
        // dG lives in a grow-only per-thread workspace: a fresh 50 MB buffer per call (T 100,
        // B 64, H 512) costs ~4% of the backward in page faults alone.
        static thread_local std::vector<float> workspace;
        if (workspace.size() < (size_t)(T * B * 4 * H)) {
            workspace = std::vector<float>();  // release first: no old + new peak
            workspace.resize((size_t)(T * B * 4 * H));
        }
        float* D = workspace.data();
        std::memcpy(DH, GHN, sizeof(float) * B * H);  // running dh and dc, one slice per thread
        std::memcpy(DC, GCN, sizeof(float) * B * H);
        const Packed P = pack_w_hh(Wh, H, false);
        const int nt = rec_threads(B, H);
        BiasPartials db(nt, 4 * H);
#pragma omp parallel num_threads(nt)
        {
            const Share m = my_share(B, H);
            float* dbt = db.of(thread_id());
            const int64_t rows = m.r1 - m.r0;
            float* dh = DH + m.r0 * H;
            for (int64_t t = T - 1; t >= 0 && B > 0; --t) {
                const int64_t o = t * B + m.r0;
                const float* cp = (t ? CS + (t - 1) * B * H : C0) + m.r0 * H;
                float* Dt = D + o * 4 * H;
                pointwise_backward(rows, H, m.j0, m.j1, dh, GY + o * H, DC + m.r0 * H, cp,
                                   CS + o * H, A + o * 4 * H, Dt, dbt);
                if (!m.by_rows) {
#pragma omp barrier
                }
                rec_product(rows, Dt, 4 * H, P, m.u0, m.u1, dh, H, false);
            }
        }
        sgemm(false, false, T * B, I, 4 * H, 1.0f, D, 4 * H, Wi, I, 0.0f, GX, I);
        sgemm(true, false, 4 * H, I, T * B, 1.0f, D, 4 * H, X, I, 0.0f, GWI, I);
        sgemm(true, false, 4 * H, H, T ? B : 0, 1.0f, D, 4 * H, H0, H, 0.0f, GWH, H);
        if (T > 1)
            sgemm(true, false, 4 * H, H, (T - 1) * B, 1.0f, D + B * 4 * H, 4 * H, Y, H, 1.0f,
                  GWH, H);
        db.sum_into(GB);
    }
    return py::make_tuple(gx, gh0, gc0, gwi, gwh, gb);
}

// Exposed for the accuracy test of the vectorised transcendental functions.
py::array_t<float> activation_py(py::array x, const std::string& which) {
    check_f32(x, "x", 1);
    const int64_t n = x.shape(0);
    py::array_t<float> out = empty_f32({n});
    const float* a = fptr(x);
    float* o = fptr_mut(out);
    if (which == "sigmoid") {
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) o[j] = fsigmoid(a[j]);
    } else if (which == "tanh") {
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) o[j] = ftanh(a[j]);
    } else if (which == "exp") {
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) o[j] = fexp(a[j]);
    } else {
        throw py::value_error("which: expected 'sigmoid', 'tanh' or 'exp', got '" + which + "'");
    }
    return out;
}

}  // namespace
}  // namespace fastnn

void register_lstm(py::module_& m) {
    using namespace fastnn;
    m.def("lstm_cell_forward", &cell_forward, py::arg("x"), py::arg("h"), py::arg("c"),
          py::arg("w_ih"), py::arg("w_hh"), py::arg("b_ih").none(true), py::arg("b_hh").none(true),
          "One LSTM step; returns (h_new, c_new, activated gates).");
    m.def("lstm_cell_backward", &cell_backward, py::arg("grad_h"), py::arg("grad_c"), py::arg("x"),
          py::arg("h"), py::arg("c"), py::arg("c_new"), py::arg("gates"), py::arg("w_ih"),
          py::arg("w_hh"), "Backward of lstm_cell_forward.");
    m.def("lstm_sequence_forward", &sequence_forward, py::arg("x"), py::arg("h0"), py::arg("c0"),
          py::arg("w_ih"), py::arg("w_hh"), py::arg("b_ih").none(true), py::arg("b_hh").none(true),
          "One LSTM layer over a time-major sequence; returns (y, h_n, c_n, cs, gates).");
    m.def("lstm_sequence_backward", &sequence_backward, py::arg("grad_y"), py::arg("grad_hn"),
          py::arg("grad_cn"), py::arg("x"), py::arg("h0"), py::arg("c0"), py::arg("w_ih"),
          py::arg("w_hh"), py::arg("y"), py::arg("cs"), py::arg("gates"),
          "Backward through time of lstm_sequence_forward.");
    m.def("lstm_activation", &activation_py, py::arg("x"), py::arg("which"),
          "The LSTM kernels' vectorised sigmoid/tanh/exp (for accuracy tests).");
}
