// LSTM cell and sequence kernels, float32, forward and backward (PyTorch gate order i, f, g, o).
//
// Algorithm
//   sequence forward: G = X W_ih^T + (b_ih + b_hh) for all T steps in one (T*B) x I x 4H sgemm
//     (bias fused in the epilogue); then per step G_t += h_{t-1} W_hh^T (beta = 1, one GEMM for
//     all four gates) and ONE fused pointwise pass that activates the gates in place (they are
//     the saved `gates`) and writes c_t and h_t. No per-gate temporaries.
//   sequence backward: per step one fused pointwise pass (dG_t and dc_{t-1}) and one GEMM
//     dh_{t-1} = dG_t W_hh; at the end the weight gradients as GEMMs over all T*B rows:
//     dX = dG W_ih, dW_ih = dG^T X, dW_hh = dG_0^T h0 + dG_{1:}^T Y_{:-1}; db is summed inside
//     the pointwise pass (per-thread partials), so dG is written once and read only by GEMMs.
//   The recurrence is independent across batch rows, so each OpenMP thread owns a slice of the
//   batch for the whole time loop: no barrier per step, W_hh stays hot in each core's cache.
//   sigmoid/tanh are branch-free polynomials (Cephes expf, Eigen's rational tanh) that GCC
//   vectorises under `omp simd` at every ISA level; max relative error ~3e-7 (tests check 2e-6).
//
// Versions (ratio vs torch.lstm CPU, 2 threads, docs/benchmarks.md results table):
//   version  idea                                     measured                           date
//   1 (now)  hoisted input-projection sgemm, fused    Zen 3 AVX2 T100 B64: I64 H128 fwd  2026-11-23
//            pointwise pass, batch-sliced threads,    1.23x, bwd 1.22x; I512 H512 fwd
//            W_hh transposed once per sequence        0.95x, bwd 0.89x
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "common.h"
#include "gemm.h"

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

// Rows of one step: G (rows, 4H) pre-activations in, activated gates out (in place);
// c_t = f*c_prev + i*g, h_t = o*tanh(c_t).
void pointwise_forward(int64_t rows, int64_t H, float* G, const float* c_prev, float* c_out,
                       float* h_out) {
    for (int64_t r = 0; r < rows; ++r) {
        float* gi = G + r * 4 * H;
        float* gf = gi + H;
        float* gg = gi + 2 * H;
        float* go = gi + 3 * H;
        const float* cp = c_prev + r * H;
        float* cn = c_out + r * H;
        float* hn = h_out + r * H;
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
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

// Rows of one step backward: dh (+ gy when given) flows into h_t, dc into c_t (updated in place
// to the gradient w.r.t. c_{t-1}); writes the pre-activation gate gradient dG (rows, 4H) and adds
// its column sums into db (4H): the bias gradient costs no second pass over dG.
void pointwise_backward(int64_t rows, int64_t H, const float* dh, const float* gy, float* dc,
                        const float* c_prev, const float* c_new, const float* gates, float* dG,
                        float* db) {
    for (int64_t r = 0; r < rows; ++r) {
        const float* a = gates + r * 4 * H;
        float* d = dG + r * 4 * H;
        const float* dhr = dh + r * H;
        const float* gyr = gy ? gy + r * H : nullptr;
        float* dcr = dc + r * H;
        const float* cp = c_prev + r * H;
        const float* cn = c_new + r * H;
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
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
            pointwise_forward(s.b1 - s.b0, H, G + s.b0 * 4 * H, Cp + s.b0 * H, Cn + s.b0 * H,
                              Hn + s.b0 * H);
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
            pointwise_backward(s.b1 - s.b0, H, dH + s.b0 * H, nullptr, GC + s.b0 * H,
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
            pointwise_forward(B, H, G, C0, CS, Y);
        } else {
        // W_hh^T (H, 4H) row-major, once per call: the per-step product then reads it directly
        // (sgemm's unpacked-B path for short M), instead of re-packing W_hh at every step.
        // Transposed in 32 x 32 tiles, threads over row tiles from H = 128 (a row-at-a-time
        // scatter writes a new cache line per element). Still ~30 ms CPU at H = 1024 on the
        // loaded machine (T = 2 minus T = 1); the old loop's cost was not measured apart.
        std::vector<float> WhT((size_t)(H * 4 * H));
        constexpr int64_t TT = 32;
#pragma omp parallel for schedule(static) if (H >= 128)
        for (int64_t n0 = 0; n0 < 4 * H; n0 += TT)
            for (int64_t k0 = 0; k0 < H; k0 += TT) {
                const int64_t n1 = std::min(n0 + TT, 4 * H), k1 = std::min(k0 + TT, H);
                for (int64_t n = n0; n < n1; ++n)
                    for (int64_t k = k0; k < k1; ++k) WhT[k * 4 * H + n] = Wh[n * H + k];
            }
#pragma omp parallel num_threads(batch_threads(B))
        {
            const Slice s = my_rows(B);
            const int64_t rows = s.b1 - s.b0;
            for (int64_t t = 0; t < T && rows > 0; ++t) {
                const float* hp = (t ? Y + (t - 1) * B * H : H0) + s.b0 * H;
                const float* cp = (t ? CS + (t - 1) * B * H : C0) + s.b0 * H;
                float* Gt = G + (t * B + s.b0) * 4 * H;
                sgemm(false, false, rows, 4 * H, H, 1.0f, hp, H, WhT.data(), 4 * H, 1.0f, Gt,
                      4 * H, nullptr, Act::None, false);
                pointwise_forward(rows, H, Gt, cp, CS + (t * B + s.b0) * H, Y + (t * B + s.b0) * H);
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
        const int nt = batch_threads(B);
        BiasPartials db(nt, 4 * H);
#pragma omp parallel num_threads(nt)
        {
            const Slice s = my_rows(B);
            float* dbt = db.of(thread_id());
            const int64_t rows = s.b1 - s.b0;
            for (int64_t t = T - 1; t >= 0 && rows > 0; --t) {
                const float* cp = (t ? CS + (t - 1) * B * H : C0) + s.b0 * H;
                float* Dt = D + (t * B + s.b0) * 4 * H;
                pointwise_backward(rows, H, DH + s.b0 * H, GY + (t * B + s.b0) * H, DC + s.b0 * H,
                                   cp, CS + (t * B + s.b0) * H, A + (t * B + s.b0) * 4 * H, Dt,
                                   dbt);
                sgemm(false, false, rows, H, 4 * H, 1.0f, Dt, 4 * H, Wh, H, 0.0f, DH + s.b0 * H, H,
                      nullptr, Act::None, false);
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
