// Row softmax / log_softmax (forward, backward), fused cross-entropy over class indices, dropout
// masks from a counter-based generator, and the Embedding backward scatter-add.
//
// softmax: per row of n floats, three passes on the (cached) row: max; e = exp(x - max) with its
// sum (simd::exp: Cody-Waite + degree-6 polynomial, relative error ~2e-7); y = e / sum
// (log_softmax: y = (x - max) - log(sum)). Backward: dx = y (g - sum(g y)) and
// dx = g - exp(y) sum(g). Rows are split over OpenMP threads above PARALLEL_MIN elements.
// cross_entropy: per row lse = max + log(sum exp(x - max)) and loss = (1 - eps)(lse - x[t]) +
// eps (lse - mean(x)) (label smoothing eps); only lse (M floats) is saved, and the backward
// recomputes softmax from x and lse in the same pass that writes coef (p - eps/C - (1-eps) onehot).
// dropout: element i draws 32 bits from splitmix64's finaliser of (seed + (i / 2) * golden)
// (low half for even i, high half for odd i; fastnn/ops/softmax.py has the same in NumPy), keeps
// when bits >> 8 >= threshold = ceil(p 2^24), i.e. when a float32 uniform in [0, 1) is >= p.
// Counter-based, so the mask does not depend on the thread count. y = x * (keep ? scale : 0)
// (a product, like torch: NaN * 0 stays NaN). The mask is kept as uint8 (1 byte per element).
// embedding_backward: zeroed (num_weights, D) gradient, rows added in index order (deterministic);
// threads split the columns, so each output element is summed in the same order by one thread.
// Measured (Zen 3, 2 cores shared, load ~8; benchmarks/softmax_ab.py 1): fwd+bwd vs the NumPy
// passes before / vs torch 2.13 aten, 1 thread: attention softmax (8192, 64) 6.1x / 2.3x; dropout
// (32,64,128) p=0.1 2.8x / 7.9x; CE (2048, 128) 3.2x / 1.6x; CE (768, 65) 2.5x / 1.6x; CE (600,
// 10000) 1.9x / 2.7x; Embedding backward 6400 -> 10000x64 34x / 5.9x.
#include <cmath>
#include <cstring>
#include <limits>

#include "common.h"
#include "simd.h"

namespace {

namespace S = fastnn::simd;
using fastnn::check_f32;
using fastnn::fptr;

// Below this many elements a call runs on the calling thread: these kernels are memory-bound and
// short (0.1-1 ms at the training race's shapes), and on the shared 2-core machine an OpenMP
// region with a descheduled worker measured several times slower than one thread (as in
// csrc/optim.cpp).
constexpr int64_t PARALLEL_MIN = 1 << 20;
constexpr float NEG_INF = -std::numeric_limits<float>::infinity();
constexpr uint64_t GOLDEN = 0x9E3779B97F4A7C15ULL;

// --------------------------------------------------------------------------- row primitives
inline float row_max(const float* x, int64_t n) {
    S::vf m = S::set1(NEG_INF);
    int64_t j = 0;
    for (; j + S::W <= n; j += S::W) m = S::max(m, S::loadu(x + j));
    float r = S::hmax(m);
    for (; j < n; ++j) r = x[j] > r ? x[j] : r;
    return r;
}

// e[j] = exp(x[j] - m) (e may be null: only the sum); returns sum e
inline float exp_sum(const float* x, float* e, int64_t n, float m) {
    const S::vf mv = S::set1(m);
    S::vf acc = S::zero();
    for (int64_t j = 0; j < n; j += S::W) {
        const int r = (int)std::min<int64_t>(S::W, n - j);
        S::vf v = S::exp(S::sub(S::loadu_n(x + j, r), mv));
        if (r < S::W) v = S::tail(v, r, 0.f);
        if (e) S::storeu_n(e + j, v, r);
        acc = S::add(acc, v);
    }
    return S::hsum(acc);
}

inline float dot(const float* a, const float* b, int64_t n) {
    S::vf acc = S::zero();
    int64_t j = 0;
    for (; j + S::W <= n; j += S::W) acc = S::fmadd(S::loadu(a + j), S::loadu(b + j), acc);
    float s = S::hsum(acc);
    for (; j < n; ++j) s += a[j] * b[j];
    return s;
}

inline float row_sum(const float* a, int64_t n) {
    S::vf acc = S::zero();
    int64_t j = 0;
    for (; j + S::W <= n; j += S::W) acc = S::add(acc, S::loadu(a + j));
    float s = S::hsum(acc);
    for (; j < n; ++j) s += a[j];
    return s;
}

// masked_rows_zero (the attention path): a max that is not finite counts as 0, and a row whose
// exponentials sum to 0 (all -inf) comes out 0 instead of NaN
void softmax_row(const float* x, float* y, int64_t n, bool log, bool masked_rows_zero) {
    float m = row_max(x, n);
    if (masked_rows_zero && !std::isfinite(m)) m = 0.f;
    if (log) {
        const float ls = std::log(exp_sum(x, nullptr, n, m));
        for (int64_t j = 0; j < n; ++j) y[j] = (x[j] - m) - ls;
        return;
    }
    const float s = exp_sum(x, y, n, m);
    const float inv = (masked_rows_zero && !(s > 0.f)) ? 1.f : 1.f / s;
    for (int64_t j = 0; j < n; ++j) y[j] *= inv;
}

void softmax_backward_row(const float* y, const float* g, float* dx, int64_t n, bool log) {
    if (log) {
        const float s = row_sum(g, n);
        const S::vf sv = S::set1(s);
        for (int64_t j = 0; j < n; j += S::W) {
            const int r = (int)std::min<int64_t>(S::W, n - j);
            S::vf e = S::exp(S::loadu_n(y + j, r));
            S::storeu_n(dx + j, S::sub(S::loadu_n(g + j, r), S::mul(e, sv)), r);
        }
        return;
    }
    const float s = dot(g, y, n);
    for (int64_t j = 0; j < n; ++j) dx[j] = y[j] * (g[j] - s);
}

// ------------------------------------------------------------------------------- arguments
void check_rows(const py::array& a, const char* name, int64_t m, int64_t n) {
    check_f32(a, name, 2);
    fastnn::check_dim(a, name, 0, m);
    fastnn::check_dim(a, name, 1, n);
}

const int64_t* i64_arg(const py::array& a, const char* name, int64_t len) {
    if (!a.dtype().is(py::dtype::of<int64_t>()))
        throw py::type_error(std::string(name) + ": expected an int64 array, got dtype " +
                             std::string(py::str(a.dtype())));
    if (a.ndim() != 1)
        throw py::value_error(std::string(name) + ": expected a 1-D array, got " +
                              std::to_string(a.ndim()) + "-D");
    if (!(a.flags() & py::array::c_style))
        throw py::value_error(std::string(name) + ": expected a C-contiguous array");
    fastnn::check_dim(a, name, 0, len);
    return static_cast<const int64_t*>(a.data());
}

bool parallel(int64_t work) { return work >= PARALLEL_MIN && fastnn::max_threads() > 1; }

// ------------------------------------------------------------------------------- softmax
py::array_t<float> softmax_forward(const py::array& x, bool log, bool masked_rows_zero) {
    check_f32(x, "x", 2);
    const int64_t m = x.shape(0), n = x.shape(1);
    py::array_t<float> y = fastnn::empty_f32({m, n});
    const float* px = fptr(x);
    float* py_ = y.mutable_data();
    {
        py::gil_scoped_release nogil;
#pragma omp parallel for schedule(static) if (parallel(m * n))
        for (int64_t i = 0; i < m; ++i) softmax_row(px + i * n, py_ + i * n, n, log, masked_rows_zero);
    }
    return y;
}

py::array_t<float> softmax_backward(const py::array& y, const py::array& grad, bool log) {
    check_f32(y, "y", 2);
    const int64_t m = y.shape(0), n = y.shape(1);
    check_rows(grad, "grad", m, n);
    py::array_t<float> dx = fastnn::empty_f32({m, n});
    const float *py_ = fptr(y), *pg = fptr(grad);
    float* pd = dx.mutable_data();
    {
        py::gil_scoped_release nogil;
#pragma omp parallel for schedule(static) if (parallel(m * n))
        for (int64_t i = 0; i < m; ++i)
            softmax_backward_row(py_ + i * n, pg + i * n, pd + i * n, n, log);
    }
    return dx;
}

// --------------------------------------------------------------------------- cross-entropy
void check_targets(const int64_t* t, int64_t m, int64_t c, int64_t ignore_index) {
    for (int64_t i = 0; i < m; ++i)
        if (t[i] != ignore_index && (t[i] < 0 || t[i] >= c))
            throw py::index_error("target: Target " + std::to_string(t[i]) + " is out of bounds.");
}

float smoothing_arg(double eps) {
    if (!(eps >= 0.0 && eps <= 1.0))
        throw py::value_error("label_smoothing: expected a float in [0, 1], got " +
                              std::to_string(eps));
    return (float)eps;
}

// Returns (loss (M,), lse (M,)); ignored rows have loss 0.
py::tuple cross_entropy_forward(const py::array& x, const py::array& target, int64_t ignore_index,
                                double label_smoothing) {
    check_f32(x, "x", 2);
    const int64_t m = x.shape(0), c = x.shape(1);
    const int64_t* t = i64_arg(target, "target", m);
    const float eps = smoothing_arg(label_smoothing);
    check_targets(t, m, c, ignore_index);
    py::array_t<float> loss = fastnn::empty_f32({m}), lse = fastnn::empty_f32({m});
    const float* px = fptr(x);
    float *pl = loss.mutable_data(), *ps = lse.mutable_data();
    {
        py::gil_scoped_release nogil;
#pragma omp parallel for schedule(static) if (parallel(m * c))
        for (int64_t i = 0; i < m; ++i) {
            const float* row = px + i * c;
            const float mx = row_max(row, c);
            const float l = mx + std::log(exp_sum(row, nullptr, c, mx));
            ps[i] = l;
            if (t[i] == ignore_index) {
                pl[i] = 0.f;
                continue;
            }
            float v = (1.f - eps) * (l - row[t[i]]);
            if (eps != 0.f) v += eps * (l - row_sum(row, c) / (float)c);
            pl[i] = v;
        }
    }
    return py::make_tuple(loss, lse);
}

// dx[i] = coef[i] (softmax(x[i]) - eps/C - (1 - eps) onehot(t[i])), 0 for ignored rows.
py::array_t<float> cross_entropy_backward(const py::array& x, const py::array& target,
                                          const py::array& lse, const py::array& coef,
                                          int64_t ignore_index, double label_smoothing) {
    check_f32(x, "x", 2);
    const int64_t m = x.shape(0), c = x.shape(1);
    const int64_t* t = i64_arg(target, "target", m);
    check_f32(lse, "lse", 1);
    fastnn::check_dim(lse, "lse", 0, m);
    check_f32(coef, "coef", 1);
    fastnn::check_dim(coef, "coef", 0, m);
    const float eps = smoothing_arg(label_smoothing);
    check_targets(t, m, c, ignore_index);
    py::array_t<float> dx = fastnn::empty_f32({m, c});
    const float *px = fptr(x), *ps = fptr(lse), *pc = fptr(coef);
    float* pd = dx.mutable_data();
    {
        py::gil_scoped_release nogil;
#pragma omp parallel for schedule(static) if (parallel(m * c))
        for (int64_t i = 0; i < m; ++i) {
            float* d = pd + i * c;
            if (t[i] == ignore_index) {
                std::memset(d, 0, sizeof(float) * c);
                continue;
            }
            const float* row = px + i * c;
            const float k = pc[i];
            const S::vf lv = S::set1(ps[i]), kv = S::set1(k), off = S::set1(k * eps / (float)c);
            for (int64_t j = 0; j < c; j += S::W) {
                const int r = (int)std::min<int64_t>(S::W, c - j);
                S::vf p = S::exp(S::sub(S::loadu_n(row + j, r), lv));
                S::storeu_n(d + j, S::sub(S::mul(p, kv), off), r);
            }
            d[t[i]] -= k * (1.f - eps);
        }
    }
    return dx;
}

// --------------------------------------------------------------------------------- dropout
inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// keep[i - begin] for i in [begin, end) (begin even): 1 when element i's 24-bit uniform is
// >= threshold. Whole pairs first (GCC vectorises that loop: 64-bit multiplies on AVX2 lanes).
inline void draw_keep(uint8_t* __restrict keep, uint64_t seed, uint32_t threshold, int64_t begin,
                      int64_t end) {
    const int64_t k0 = begin >> 1, k1 = end >> 1;
    for (int64_t k = k0; k < k1; ++k) {
        const uint64_t z = mix64(seed + (uint64_t)k * GOLDEN);
        keep[2 * (k - k0)] = ((uint32_t)z >> 8) >= threshold;
        keep[2 * (k - k0) + 1] = ((uint32_t)(z >> 32) >> 8) >= threshold;
    }
    if (end & 1) keep[end - 1 - begin] = ((uint32_t)mix64(seed + (uint64_t)k1 * GOLDEN) >> 8) >= threshold;
}

constexpr int64_t DROP_CHUNK = 8192;  // even: chunks start on a pair

uint32_t threshold_arg(int64_t threshold) {
    if (threshold < 0 || threshold > (1 << 24))
        throw py::value_error("threshold: expected an int in [0, 2**24], got " +
                              std::to_string(threshold));
    return (uint32_t)threshold;
}

// Returns (y, mask): mask uint8 0/1, or with float_mask float32 0/scale (what the attention
// path saves), both shaped like x.
py::tuple dropout_forward(const py::array& x, uint64_t seed, int64_t threshold, float scale,
                          bool float_mask) {
    check_f32(x, "x", 1);
    const uint32_t thr = threshold_arg(threshold);
    const int64_t n = x.shape(0);
    py::array_t<float> y = fastnn::empty_f32({n});
    py::array mask = float_mask ? py::array(fastnn::empty_f32({n})) : py::array(py::array_t<uint8_t>(n));
    const float* px = fptr(x);
    float* py_ = y.mutable_data();
    void* pm = mask.mutable_data();
    {
        py::gil_scoped_release nogil;
        const int64_t chunks = (n + DROP_CHUNK - 1) / DROP_CHUNK;
#pragma omp parallel for schedule(static) if (parallel(n))
        for (int64_t ch = 0; ch < chunks; ++ch) {
            const int64_t b = ch * DROP_CHUNK, e = std::min(n, b + DROP_CHUNK);
            uint8_t local[DROP_CHUNK];
            uint8_t* keep = float_mask ? local : static_cast<uint8_t*>(pm) + b;
            draw_keep(keep, seed, thr, b, e);
            const uint8_t* __restrict kp = keep;
            const float* __restrict xi = px + b;
            float* __restrict yo = py_ + b;
            for (int64_t j = 0; j < e - b; ++j) yo[j] = xi[j] * (kp[j] ? scale : 0.f);
            if (float_mask) {
                float* __restrict fm = static_cast<float*>(pm) + b;
                for (int64_t j = 0; j < e - b; ++j) fm[j] = kp[j] ? scale : 0.f;
            }
        }
    }
    return py::make_tuple(y, mask);
}

// The 0/1 uint8 keep mask alone (channel dropout's small masks)
py::array_t<uint8_t> dropout_mask(int64_t n, uint64_t seed, int64_t threshold) {
    if (n < 0) throw py::value_error("n: expected a size >= 0");
    const uint32_t thr = threshold_arg(threshold);
    py::array_t<uint8_t> mask(n);
    uint8_t* pm = mask.mutable_data();
    py::gil_scoped_release nogil;
    draw_keep(pm, seed, thr, 0, n);
    return mask;
}

py::array_t<float> dropout_backward(const py::array& grad, const py::array& mask, float scale) {
    check_f32(grad, "grad", 1);
    const int64_t n = grad.shape(0);
    if (!mask.dtype().is(py::dtype::of<uint8_t>()))
        throw py::type_error("mask: expected a uint8 array, got dtype " +
                             std::string(py::str(mask.dtype())));
    if (mask.ndim() != 1 || !(mask.flags() & py::array::c_style))
        throw py::value_error("mask: expected a C-contiguous 1-D array");
    fastnn::check_dim(mask, "mask", 0, n);
    py::array_t<float> dx = fastnn::empty_f32({n});
    const float* pg = fptr(grad);
    const uint8_t* pm = static_cast<const uint8_t*>(mask.data());
    float* pd = dx.mutable_data();
    {
        py::gil_scoped_release nogil;
        const int64_t chunks = (n + DROP_CHUNK - 1) / DROP_CHUNK;
#pragma omp parallel for schedule(static) if (parallel(n))
        for (int64_t ch = 0; ch < chunks; ++ch) {
            const int64_t b = ch * DROP_CHUNK, e = std::min(n, b + DROP_CHUNK);
            const uint8_t* __restrict kp = pm + b;
            const float* __restrict gi = pg + b;
            float* __restrict d = pd + b;
            for (int64_t j = 0; j < e - b; ++j) d[j] = gi[j] * (kp[j] ? scale : 0.f);
        }
    }
    return dx;
}

// ------------------------------------------------------------------------------- embedding
py::array_t<float> embedding_backward(const py::array& grad, const py::array& indices,
                                      int64_t num_weights, int64_t padding_idx,
                                      bool scale_grad_by_freq) {
    check_f32(grad, "grad", 2);
    const int64_t m = grad.shape(0), d = grad.shape(1);
    const int64_t* idx = i64_arg(indices, "indices", m);
    if (num_weights < 0) throw py::value_error("num_weights: expected a size >= 0");
    for (int64_t i = 0; i < m; ++i)
        if (idx[i] < 0 || idx[i] >= num_weights)
            throw py::index_error("indices: index " + std::to_string(idx[i]) +
                                  " is out of range for " + std::to_string(num_weights) +
                                  " embeddings");
    // calloc: zero pages come from the kernel lazily (no pass over the whole gradient here)
    float* gw = static_cast<float*>(std::calloc((size_t)std::max<int64_t>(num_weights * d, 1), sizeof(float)));
    if (!gw) throw std::bad_alloc();
    py::capsule owner(gw, [](void* q) { std::free(q); });
    py::array_t<float> out(std::vector<py::ssize_t>{num_weights, d}, gw, owner);
    const float* pg = fptr(grad);
    {
        py::gil_scoped_release nogil;
        std::vector<float> inv;
        if (scale_grad_by_freq) {
            std::vector<int64_t> count(num_weights, 0);
            for (int64_t i = 0; i < m; ++i) ++count[idx[i]];
            inv.assign(num_weights, 0.f);
            for (int64_t r = 0; r < num_weights; ++r)
                if (count[r]) inv[r] = 1.f / (float)count[r];
        }
        const int threads = parallel(m * d) ? fastnn::max_threads() : 1;
        const int64_t block = std::max<int64_t>(8, ((d + threads - 1) / threads + 7) / 8 * 8);
        const int64_t blocks = (d + block - 1) / block;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
        for (int64_t b = 0; b < blocks; ++b) {
            const int64_t c0 = b * block, c1 = std::min(d, c0 + block);
            for (int64_t i = 0; i < m; ++i) {
                const int64_t r = idx[i];
                if (r == padding_idx) continue;
                const float* g = pg + i * d;
                float* w = gw + r * d;
                if (scale_grad_by_freq) {
                    const float s = inv[r];
                    for (int64_t j = c0; j < c1; ++j) w[j] += g[j] * s;
                } else {
                    for (int64_t j = c0; j < c1; ++j) w[j] += g[j];
                }
            }
        }
    }
    return out;
}

}  // namespace

void register_softmax(py::module_& m) {
    m.def("softmax_forward", &softmax_forward, py::arg("x"), py::arg("log") = false,
          py::arg("masked_rows_zero") = false,
          "Row softmax (log=True: log_softmax) of a C-contiguous float32 (M, N) array.");
    m.def("softmax_backward", &softmax_backward, py::arg("y"), py::arg("grad"),
          py::arg("log") = false, "Gradient of softmax_forward from its output y.");
    m.def("cross_entropy_forward", &cross_entropy_forward, py::arg("x"), py::arg("target"),
          py::arg("ignore_index"), py::arg("label_smoothing"),
          "Per-row cross-entropy of float32 logits (M, C) and int64 targets (M,): (loss, lse).");
    m.def("cross_entropy_backward", &cross_entropy_backward, py::arg("x"), py::arg("target"),
          py::arg("lse"), py::arg("coef"), py::arg("ignore_index"), py::arg("label_smoothing"),
          "coef[i] * (softmax(x[i]) - eps/C - (1-eps) onehot(target[i])); ignored rows 0.");
    m.def("dropout_forward", &dropout_forward, py::arg("x"), py::arg("seed"),
          py::arg("threshold"), py::arg("scale"), py::arg("float_mask") = false,
          "Inverted dropout of a flat float32 array: (y, mask).");
    m.def("dropout_mask", &dropout_mask, py::arg("n"), py::arg("seed"), py::arg("threshold"),
          "The uint8 keep mask dropout_forward would draw for n elements.");
    m.def("dropout_backward", &dropout_backward, py::arg("grad"), py::arg("mask"),
          py::arg("scale"), "grad * mask * scale for a uint8 0/1 mask.");
    m.def("embedding_backward", &embedding_backward, py::arg("grad"), py::arg("indices"),
          py::arg("num_weights"), py::arg("padding_idx"), py::arg("scale_grad_by_freq"),
          "Scatter-add of grad rows (M, D) into a zeroed (num_weights, D) weight gradient.");
}
