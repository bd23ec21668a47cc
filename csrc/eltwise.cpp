// GELU (exact erf form and PyTorch's tanh form) and LayerNorm, float32, forward and backward.
//
// GELU: one pass each way, scalar inline code that GCC vectorises (-O3; AVX2+FMA: 8 lanes), OpenMP
// over chunks of CHUNK elements above PARALLEL_MIN elements.
//   exact: Phi(-a) = 0.5 g(a / sqrt 2) exp(-a^2 / 2), a = |x|, g(u) = exp(u^2) erfc(u) (the Mills
//          ratio, smooth) as (1 + h(q)) / (1 + 2u), h a degree-11 polynomial in q = (u-2)/(u+2)
//          (N. Juffa's erfcf form; our own Chebyshev fit, relative error 1.5e-9). a^2 / 2 is split
//          hi + lo with an FMA, so the exponent is exact and the far negative tail keeps a few-ulp
//          relative error down to the denormals (NumPy's float32 path and torch lose it there:
//          torch's 1 + erf(x / sqrt 2) cancels to 0 below x ~ -5.9). y = x Phi(x);
//          dy/dx = Phi(x) + x phi(x). Baseline x86-64 (no FMA unit): std::fma goes through libm,
//          correct but slower.
//   tanh:  0.5 x (1 + tanh(w/2)) = x sigmoid(w), w = 2 sqrt(2/pi) (x + 0.044715 x^3), evaluated
//          as x E/(1+E) or x/(1+E), E = exp(-|w|) <= 1 (no overflow); w and its reduction
//          w - n ln2 in double, so the exponential tail is accurate too.
//   Infinities and NaN as torch: gelu(+inf) = inf, gelu(-inf) = NaN, the gradient at +-inf NaN
//   (torch's tanh-form gradient is also NaN at finite |x| > ~7e12, from x^3 overflowing: ours is
//   the true 1 / 0 there). Max error vs float64 over [-15, 12] (tests/test_eltwise_kernels.py):
//   erf 2.5 ulps forward, 2.5 backward; tanh 2.0 and 3.2 (the backward relative to the size of
//   the terms summed).
// LayerNorm over the last dimension of a (rows, n) array: two passes per row (mean, then the
// centred sum of squares) in float32 with 16 partial sums, OpenMP over rows; saves mean and
// rstd (rows,). Backward recomputes xhat from x, mean, rstd; dgamma/dbeta summed per thread, then
// across threads.
//
// Versions (Zen 3, 1 thread, shared machine at load ~7-9, so ratios only):
//   version  idea                                  measured                              date
//   1        LN backward: g and g*xhat summed in   LN bwd (768, 128) 0.31 ms             2026-12-06
//            one two-array accumulator loop
//   2 (now)  one helper per row sum (as forward)   LN bwd 0.06 ms, fwd 0.05 ms; through  2026-12-06
//                                                  autograd (benchmarks/eltwise_ab.py 1):
//                                                  GELU erf fwd+bwd (768, 512) 1.78 ms vs
//                                                  NumPy 3.90, torch 1.39; tanh 3.70 vs
//                                                  9.20, torch 5.86; LN 0.72 vs 1.79,
//                                                  torch 0.77
//   tried: one division for q and g in erf_parts: no measurable gain, 3.3 ulps instead of 2.5.
// The GELU loops compute both sides of each select: GCC if-converts (vectorises) them only
// because setup.py builds with -fno-trapping-math (without it: scalar, "control flow in loop").
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "common.h"

namespace {

constexpr int64_t CHUNK = 8192;
constexpr int64_t PARALLEL_MIN = 32768;

inline float from_bits(int32_t i) {
    float f;
    std::memcpy(&f, &i, sizeof f);
    return f;
}

// m * 2^n * e^r for |r| <= ~0.36, integral n in [-252, 128]: degree-6 polynomial for e^r (max
// relative error ~1e-7), 2^n as two exponent-bit factors so the one rounding into the denormal
// range is the last multiply.
inline float exp_finish(float n, float r, float m) {
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + (r + 1.f);
    const int32_t ni = (int32_t)n;
    const int32_t h = ni >> 1;
    return ((m * p) * from_bits((h + 127) << 23)) * from_bits((ni - h + 127) << 23);
}

constexpr float LOG2E = 1.44269504088896341f;
constexpr float ROUND_MAGIC = 12582912.f;  // 1.5 * 2^23: (t + M) - M rounds t to nearest

// GELU exact. The caller's `a` is |x| clamped to [0, 14.5] (beyond it Phi(-a) < 2^-150 is 0);
// returns P = 0.5 g e where e = exp(-a^2/2) = 2^n e^r, through m: m * P computed as m*0.5g*2^n*e^r.
struct ErfParts {
    float n, r, half_g;
};

inline ErfParts erf_parts(float a) {
    const float sh = a * a;
    const float sl = std::fma(a, a, -sh);  // a^2 = sh + sl exactly
    const float hi = -0.5f * sh, lo = -0.5f * sl;
    const float n = (hi * LOG2E + ROUND_MAGIC) - ROUND_MAGIC;
    float r = std::fma(n, -0.693359375f, hi);  // exact (Cody-Waite, ln2 in two parts)
    r = std::fma(n, 2.12194440e-4f, r);
    r = r + lo;
    const float u = a * 0.70710678118654752f;
    const float q = (u - 2.f) / (u + 2.f);
    float h = 8.504391654352946e-05f;
    h = h * q + 1.8051655938937863e-04f;
    h = h * q - 4.013300874872405e-04f;
    h = h * q - 1.4327114110230799e-03f;
    h = h * q + 1.249279974160988e-03f;
    h = h * q + 8.713545495364109e-03f;
    h = h * q - 8.029249581626494e-03f;
    h = h * q - 5.421850820088437e-02f;
    h = h * q + 1.6405081006823188e-01f;
    h = h * q - 1.6603048458571432e-01f;
    h = h * q - 9.276381254436744e-02f;
    h = h * q + 2.7697838234413485e-01f;
    return {n, r, 0.5f * (1.f + h) / (1.f + 2.f * u)};
}

constexpr float ERF_CUT = 14.5f;
constexpr float INV_SQRT_2PI = 0.39894228040143268f;

inline float gelu_erf_fwd(float x) {
    const float a = std::min(std::fabs(x), ERF_CUT);  // NaN stays NaN
    const ErfParts e = erf_parts(a);
    const float p = exp_finish(e.n, e.r, e.half_g * x);  // x Phi(-|x|)
    const bool far = std::fabs(x) >= ERF_CUT;
    const float neg = far ? x * 0.f : p;  // -inf * 0: NaN, as torch
    const float pos = far ? x : x - p;
    return x < 0.f ? neg : pos;
}

inline float gelu_erf_bwd(float x) {
    const float a = std::min(std::fabs(x), ERF_CUT);
    const ErfParts e = erf_parts(a);
    // Phi(x) + x phi(x) = [x >= 0] + e (x / sqrt(2 pi) -+ 0.5 g)
    const float xc = x * INV_SQRT_2PI;
    const bool neg = x < 0.f;
    const float t = exp_finish(e.n, e.r, neg ? xc + e.half_g : xc - e.half_g);
    const float d = neg ? t : 1.f + t;
    const bool far = std::fabs(x) >= ERF_CUT;
    const float inf_or_far = std::isinf(x) ? std::numeric_limits<float>::quiet_NaN()
                                           : (neg ? 0.f : 1.f);
    return far ? inf_or_far : d;
}

constexpr double TANH_K2 = 2 * 0.79788456080286535588;  // 2 sqrt(2/pi)
constexpr double TANH_C = 0.044715;
constexpr double TANH_CUT = 110.0;  // |x| exp(-|w|) < 2^-150 beyond (x ~ -10.9)

// E = exp(-|w|) as 2^n e^r, w = 2 sqrt(2/pi)(x + 0.044715 x^3) in double; `far`: |w| >= TANH_CUT
struct TanhParts {
    float n, r;
    bool far;
};

inline TanhParts tanh_parts(float x) {
    const double xd = x;
    const double w = TANH_K2 * xd * (1.0 + TANH_C * xd * xd);
    const double aw = std::min(std::fabs(w), TANH_CUT);
    const double n = (-aw * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0;
    const double r = std::fma(n, -0.69314718055994531, -aw);
    return {(float)n, (float)r, !(std::fabs(w) < TANH_CUT)};
}

inline float gelu_tanh_fwd(float x) {
    const TanhParts t = tanh_parts(x);
    const float E = exp_finish(t.n, t.r, 1.f);
    const float xe = exp_finish(t.n, t.r, x);
    const float y = x < 0.f ? xe / (1.f + E) : x / (1.f + E);
    // far: x sigmoid(w) is x or 0 (x * 0: -inf gives NaN, as torch); NaN x stays NaN
    const float yfar = x < 0.f ? x * 0.f : x;
    return t.far ? yfar : y;
}

inline float gelu_tanh_bwd(float x) {
    const TanhParts t = tanh_parts(x);
    const float E = exp_finish(t.n, t.r, 1.f);
    const float inv = 1.f / (1.f + E);
    // dw/dx, float: |x| <= ~11 wherever E > 0
    const float dw = (float)TANH_K2 * (1.f + (float)(3 * TANH_C) * x * x);
    // sigmoid' = E / (1+E)^2 on both sides
    const float xdw = x * dw * inv;
    const float neg = exp_finish(t.n, t.r, (1.f + xdw) * inv);  // E/(1+E) (1 + x w' /(1+E))
    const float pos = inv + exp_finish(t.n, t.r, xdw * inv);
    // far: 0 or 1; +-inf: NaN as torch (torch also gives NaN from x^3 overflowing at finite
    // |x| > ~7e12, where the derivative is 0 or 1: we return those); NaN stays NaN
    const float dfar = std::isinf(x) ? std::numeric_limits<float>::quiet_NaN()
                                     : (x < 0.f ? 0.f : (x != x ? x : 1.f));
    return t.far ? dfar : (x < 0.f ? neg : pos);
}

// ------------------------------------------------------------------------------ arguments

bool is_tanh(const std::string& approximate) {
    if (approximate == "tanh") return true;
    if (approximate == "none") return false;
    throw py::value_error("approximate: expected 'none' or 'tanh', got '" + approximate + "'");
}

// float32, C-contiguous, any ndim
void check_f32_any(const py::array& a, const char* name) {
    if (!a.dtype().is(py::dtype::of<float>()))
        throw py::type_error(std::string(name) + ": expected a float32 array, got dtype " +
                             std::string(py::str(a.dtype())));
    if (!(a.flags() & py::array::c_style))
        throw py::value_error(std::string(name) + ": expected a C-contiguous array");
}

std::vector<py::ssize_t> shape_vec(const py::array& a) {
    return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim());
}

template <class F>
void map_chunks(int64_t n, F body) {
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
    for (int64_t c = 0; c < (n + CHUNK - 1) / CHUNK; ++c)
        body(c * CHUNK, std::min(n, (c + 1) * CHUNK));
}

py::array gelu_forward(py::array x, const std::string& approximate) {
    check_f32_any(x, "x");
    const bool tanh_form = is_tanh(approximate);
    py::array y = fastnn::empty_f32(shape_vec(x));
    const float* xs = fastnn::fptr(x);
    float* ys = fastnn::fptr_mut(y);
    const int64_t n = x.size();
    py::gil_scoped_release release;
    if (tanh_form)
        map_chunks(n, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) ys[i] = gelu_tanh_fwd(xs[i]);
        });
    else
        map_chunks(n, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) ys[i] = gelu_erf_fwd(xs[i]);
        });
    return y;
}

py::array gelu_backward(py::array grad, py::array x, const std::string& approximate) {
    check_f32_any(grad, "grad");
    check_f32_any(x, "x");
    const bool tanh_form = is_tanh(approximate);
    if (shape_vec(grad) != shape_vec(x))
        throw py::value_error("grad: expected the shape of x");
    py::array dx = fastnn::empty_f32(shape_vec(x));
    const float* xs = fastnn::fptr(x);
    const float* gs = fastnn::fptr(grad);
    float* ds = fastnn::fptr_mut(dx);
    const int64_t n = x.size();
    py::gil_scoped_release release;
    if (tanh_form)
        map_chunks(n, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) ds[i] = gs[i] * gelu_tanh_bwd(xs[i]);
        });
    else
        map_chunks(n, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) ds[i] = gs[i] * gelu_erf_bwd(xs[i]);
        });
    return dx;
}

// --------------------------------------------------------------------------------- LayerNorm

constexpr int L = 16;  // partial sums per row (two AVX2 vectors)

inline float row_sum(const float* __restrict x, int64_t n) {
    float acc[L] = {};
    int64_t j = 0;
    for (; j + L <= n; j += L)
        for (int k = 0; k < L; ++k) acc[k] += x[j + k];
    float s = 0.f;
    for (; j < n; ++j) s += x[j];
    for (int k = 0; k < L; ++k) s += acc[k];
    return s;
}

inline float row_sq_dev(const float* __restrict x, int64_t n, float mean) {
    float acc[L] = {};
    int64_t j = 0;
    for (; j + L <= n; j += L)
        for (int k = 0; k < L; ++k) {
            const float d = x[j + k] - mean;
            acc[k] += d * d;
        }
    float s = 0.f;
    for (; j < n; ++j) s += (x[j] - mean) * (x[j] - mean);
    for (int k = 0; k < L; ++k) s += acc[k];
    return s;
}

// sum_j g[j] (x[j] - mean) rstd, with row_sum's partial sums
inline float row_dot_xhat(const float* __restrict g, const float* __restrict x, int64_t n,
                          float mean, float rstd) {
    float acc[L] = {};
    int64_t j = 0;
    for (; j + L <= n; j += L)
        for (int k = 0; k < L; ++k) acc[k] += g[j + k] * ((x[j + k] - mean) * rstd);
    float s = 0.f;
    for (; j < n; ++j) s += g[j] * ((x[j] - mean) * rstd);
    for (int k = 0; k < L; ++k) s += acc[k];
    return s;
}

// Whether to open an OpenMP region over rows. LayerNorm is memory-bound (~0.05 ms per pass over
// nanoGPT's (768, 128) on one thread): like the optimizer steps (csrc/optim.cpp), it runs on the
// calling thread below 1M elements, where a descheduled worker on this shared 2-core machine costs
// more than the second core gains (2 threads at load ~8: 38 ms vs 0.7 ms fwd+bwd).
constexpr int64_t LN_PARALLEL_MIN = 1 << 20;
inline bool parallel_rows(int64_t rows, int64_t n) {
    return rows > 1 && rows * n >= LN_PARALLEL_MIN;
}

py::tuple layer_norm_forward(py::array x, py::object weight, py::object bias, double eps) {
    fastnn::check_f32(x, "x", 2);
    const int64_t rows = x.shape(0), n = x.shape(1);
    const float* w = fastnn::opt_ptr(weight, "weight", n);
    const float* b = fastnn::opt_ptr(bias, "bias", n);
    // eps is not range-checked: torch takes any value (its OpInfo samples use eps = -0.5);
    // var + eps <= 0 gives Inf/NaN rows, as in torch
    py::array y = fastnn::empty_f32({rows, n});
    py::array mean_a = fastnn::empty_f32({rows});
    py::array rstd_a = fastnn::empty_f32({rows});
    const float* xs = fastnn::fptr(x);
    float* ys = fastnn::fptr_mut(y);
    float* ms = fastnn::fptr_mut(mean_a);
    float* rs = fastnn::fptr_mut(rstd_a);
    const float feps = (float)eps;
    {
        py::gil_scoped_release release;
#pragma omp parallel for schedule(static) if (parallel_rows(rows, n))
        for (int64_t i = 0; i < rows; ++i) {
            const float* xr = xs + i * n;
            float* yr = ys + i * n;
            // n == 0: mean and rstd NaN (0/0), as torch
            const float mean = row_sum(xr, n) / (float)n;
            const float var = row_sq_dev(xr, n, mean) / (float)n;
            const float rstd = 1.f / std::sqrt(var + feps);
            ms[i] = mean;
            rs[i] = rstd;
            if (w && b)
                for (int64_t j = 0; j < n; ++j) yr[j] = (xr[j] - mean) * rstd * w[j] + b[j];
            else if (w)
                for (int64_t j = 0; j < n; ++j) yr[j] = (xr[j] - mean) * rstd * w[j];
            else if (b)
                for (int64_t j = 0; j < n; ++j) yr[j] = (xr[j] - mean) * rstd + b[j];
            else
                for (int64_t j = 0; j < n; ++j) yr[j] = (xr[j] - mean) * rstd;
        }
    }
    return py::make_tuple(y, mean_a, rstd_a);
}

py::tuple layer_norm_backward(py::array grad, py::array x, py::array mean_a, py::array rstd_a,
                              py::object weight, bool need_input, bool need_weight,
                              bool need_bias) {
    fastnn::check_f32(grad, "grad", 2);
    fastnn::check_f32(x, "x", 2);
    const int64_t rows = x.shape(0), n = x.shape(1);
    fastnn::check_dim(grad, "grad", 0, rows);
    fastnn::check_dim(grad, "grad", 1, n);
    fastnn::check_f32(mean_a, "mean", 1);
    fastnn::check_dim(mean_a, "mean", 0, rows);
    fastnn::check_f32(rstd_a, "rstd", 1);
    fastnn::check_dim(rstd_a, "rstd", 0, rows);
    const float* w = fastnn::opt_ptr(weight, "weight", n);
    const float* gs = fastnn::fptr(grad);
    const float* xs = fastnn::fptr(x);
    const float* ms = fastnn::fptr(mean_a);
    const float* rs = fastnn::fptr(rstd_a);
    py::object dx_o = py::none(), dw_o = py::none(), db_o = py::none();
    float* dxs = nullptr;
    float* dws = nullptr;
    float* dbs = nullptr;
    if (need_input) {
        py::array a = fastnn::empty_f32({rows, n});
        dxs = fastnn::fptr_mut(a);
        dx_o = a;
    }
    if (need_weight) {
        py::array a = fastnn::empty_f32({n});
        dws = fastnn::fptr_mut(a);
        dw_o = a;
    }
    if (need_bias) {
        py::array a = fastnn::empty_f32({n});
        dbs = fastnn::fptr_mut(a);
        db_o = a;
    }
    const bool par = parallel_rows(rows, n);
    const int threads = par ? fastnn::max_threads() : 1;
    const bool need_sums = need_weight || need_bias;
    // per-thread partial dgamma, dbeta
    std::vector<float> part(need_sums ? (size_t)threads * 2 * n : 0, 0.f);
    {
        py::gil_scoped_release release;
#pragma omp parallel num_threads(threads) if (par)
        {
#ifdef _OPENMP
            const int t = omp_get_thread_num();
#else
            const int t = 0;
#endif
            float* pw = need_sums ? part.data() + (size_t)t * 2 * n : nullptr;
            float* pb = need_sums ? pw + n : nullptr;
            std::vector<float> gbuf(w && need_input ? n : 0);
#pragma omp for schedule(static)
            for (int64_t i = 0; i < rows; ++i) {
                const float* gr = gs + i * n;
                const float* xr = xs + i * n;
                const float mean = ms[i], rstd = rs[i];
                if (need_sums)
                    for (int64_t j = 0; j < n; ++j) {
                        pw[j] += gr[j] * ((xr[j] - mean) * rstd);
                        pb[j] += gr[j];
                    }
                if (!need_input) continue;
                const float* g = gr;
                if (w) {
                    for (int64_t j = 0; j < n; ++j) gbuf[j] = gr[j] * w[j];
                    g = gbuf.data();
                }
                const float s1 = row_sum(g, n), s2 = row_dot_xhat(g, xr, n, mean, rstd);
                const float m1 = s1 / (float)n, m2 = s2 / (float)n;
                float* dr = dxs + i * n;
                for (int64_t k = 0; k < n; ++k)
                    dr[k] = rstd * (g[k] - m1 - ((xr[k] - mean) * rstd) * m2);
            }
        }
        if (need_sums)
            for (int64_t j = 0; j < n; ++j) {
                float sw = 0.f, sb = 0.f;
                for (int t = 0; t < threads; ++t) {
                    sw += part[(size_t)t * 2 * n + j];
                    sb += part[(size_t)t * 2 * n + n + j];
                }
                if (dws) dws[j] = sw;
                if (dbs) dbs[j] = sb;
            }
    }
    return py::make_tuple(dx_o, dw_o, db_o);
}

}  // namespace

void register_eltwise(py::module_& m) {
    m.def("gelu_forward", &gelu_forward, py::arg("x"), py::arg("approximate") = "none",
          "GELU of a float32 C-contiguous array (approximate: 'none' = erf, 'tanh').");
    m.def("gelu_backward", &gelu_backward, py::arg("grad"), py::arg("x"),
          py::arg("approximate") = "none", "grad * GELU'(x), float32, same shapes.");
    m.def("layer_norm_forward", &layer_norm_forward, py::arg("x"), py::arg("weight"),
          py::arg("bias"), py::arg("eps"),
          "LayerNorm over the last dim of a (rows, n) float32 array; returns (y, mean, rstd).");
    m.def("layer_norm_backward", &layer_norm_backward, py::arg("grad"), py::arg("x"),
          py::arg("mean"), py::arg("rstd"), py::arg("weight"), py::arg("need_input"),
          py::arg("need_weight"), py::arg("need_bias"),
          "Gradients (dx, dweight, dbias) of layer_norm_forward; None where not needed.");
}
