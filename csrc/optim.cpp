// Multi-tensor optimizer steps: one call updates every parameter of a group (torch's
// foreach/fused idea), instead of ~10 NumPy passes and temporaries per parameter.
//
// Results are bit-identical to fastnn/optim/_functional.py (which matches PyTorch's CPU
// single-tensor kernels): the same float32 operations in the same order, each rounded on its own.
// So FMA contraction must stay off in this file (GCC contracts a*b+c by default, -ffp-contract=fast);
// torch's add(alpha=) fused multiply-add is reproduced exactly as the Python side does it,
// float64 product (exact for two float32) and sum, rounded once to float32.
//
// Each flag combination is its own branch-free loop, vectorised by GCC (the first version, one
// loop testing the flags per element, stayed scalar and was 0.7x the NumPy single-tensor path).
// Parallelism: the parameters are cut into chunks of CHUNK elements and the chunks of all
// tensors share one OpenMP loop; below PARALLEL_MIN elements in total (every model of the
// training race) it runs on the calling thread: the update is memory-bound, and on the shared
// 2-core machine an OpenMP region over 0.2-0.4 M parameters measured 4-6x slower than one
// thread (a descheduled worker holds the barrier).
//
// Measured (Zen 3, 2 cores, loaded machine): see docs/benchmarks.md, "train" rows.
#pragma GCC optimize("fp-contract=off")

#include "common.h"

#include <array>
#include <cmath>
#include <limits>

namespace {

constexpr int64_t CHUNK = 16384;
constexpr int64_t PARALLEL_MIN = 1 << 20;

struct Chunk {
    int64_t tensor, begin, end;
};

inline float fma_round_once(float a, float alpha, float b) {
    return (float)((double)a + (double)alpha * (double)b);
}

// Checks one list argument: n float32 C-contiguous (writable when `write`) arrays whose sizes
// match `sizes` (filled from the first list checked).
std::vector<float*> arrays_arg(const py::list& lst, const char* name, size_t n,
                               std::vector<int64_t>& sizes, bool write) {
    if (lst.size() != n)
        throw py::value_error(std::string(name) + ": expected " + std::to_string(n) +
                              " arrays, got " + std::to_string(lst.size()));
    std::vector<float*> ptrs(n);
    const bool first = sizes.empty();
    for (size_t i = 0; i < n; ++i) {
        py::handle o = lst[i];
        if (!py::isinstance<py::array>(o))
            throw py::type_error(std::string(name) + ": expected float32 arrays");
        py::array a = py::reinterpret_borrow<py::array>(o);
        if (!a.dtype().is(py::dtype::of<float>()))
            throw py::type_error(std::string(name) + ": expected float32 arrays, got dtype " +
                                 std::string(py::str(a.dtype())));
        if (!(a.flags() & py::array::c_style))
            throw py::value_error(std::string(name) + ": expected C-contiguous arrays");
        if (write) fastnn::check_writable(a, name);
        if (first)
            sizes.push_back(a.size());
        else if (a.size() != sizes[i])
            throw py::value_error(std::string(name) + "[" + std::to_string(i) + "]: expected " +
                                  std::to_string(sizes[i]) + " elements, got " +
                                  std::to_string(a.size()));
        ptrs[i] = static_cast<float*>(const_cast<void*>(a.data()));
    }
    return ptrs;
}

std::vector<Chunk> chunks_of(const std::vector<int64_t>& sizes, int64_t& total) {
    std::vector<Chunk> out;
    total = 0;
    for (size_t t = 0; t < sizes.size(); ++t) {
        for (int64_t b = 0; b < sizes[t]; b += CHUNK)
            out.push_back({(int64_t)t, b, std::min(sizes[t], b + CHUNK)});
        total += sizes[t];
    }
    return out;
}

std::vector<double> doubles_arg(const py::list& lst, const char* name, size_t n) {
    if (lst.size() != n)
        throw py::value_error(std::string(name) + ": expected " + std::to_string(n) +
                              " floats, got " + std::to_string(lst.size()));
    std::vector<double> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = lst[i].cast<double>();
    return v;
}

// The per-element Adam update, one instantiation per flag combination so the loop has no
// branches and GCC vectorises it (sqrt and division stay IEEE: no -ffast-math here).
template <bool MAXIMIZE, bool DECOUPLED, bool L2, bool AMSGRAD>
void adam_range(float* __restrict p, const float* __restrict g, float* __restrict m,
                float* __restrict v, float* __restrict mx, int64_t n, float f_decay, float f_wd,
                float f_omb1, float f_b2, float f_omb2, float f_eps, float neg_ss, float bc2) {
    for (int64_t i = 0; i < n; ++i) {
        float gi = MAXIMIZE ? -g[i] : g[i];
        float pi = p[i];
        if (DECOUPLED) pi = pi * f_decay;
        if (L2) gi = fma_round_once(gi, f_wd, pi);
        float tmp = gi - m[i];  // exp_avg.lerp_(g, 1 - beta1)
        tmp = tmp * f_omb1;
        const float mi = m[i] + tmp;
        m[i] = mi;
        float vi = v[i] * f_b2;  // exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        tmp = gi * f_omb2;
        tmp = tmp * gi;
        vi = vi + tmp;
        v[i] = vi;
        float src = vi;
        if (AMSGRAD) {  // np.maximum: NaN when either is NaN
            const float a = mx[i];
            const float r = a > vi ? a : vi;
            src = (a != a) ? a : r;
            mx[i] = src;
        }
        float denom = std::sqrt(src);
        denom = denom / bc2;
        denom = denom + f_eps;
        float num = mi * neg_ss;
        num = num / denom;
        p[i] = pi + num;
    }
}

using AdamRange = void (*)(float*, const float*, float*, float*, float*, int64_t, float, float,
                           float, float, float, float, float, float);

template <int F>
constexpr AdamRange adam_variant() {
    return &adam_range<(F & 1) != 0, (F & 2) != 0, (F & 4) != 0, (F & 8) != 0>;
}

// Adam / AdamW over lists of float32 arrays, in place. Per tensor i: neg_step_sizes[i] =
// float32(-lr / (1 - beta1^step)), bc2_sqrts[i] = float32(sqrt(1 - beta2^step)) (computed by the
// caller exactly as the single-tensor formula does). Other scalars are float32 casts of the
// hyper-parameters: decay = 1 - lr*wd (AdamW), wd (Adam's L2), 1-beta1, beta2, 1-beta2, eps.
void adam_multi(py::list params, py::list grads, py::list exp_avgs, py::list exp_avg_sqs,
                py::list max_exp_avg_sqs, py::list neg_step_sizes, py::list bc2_sqrts,
                double decay, double weight_decay, double one_minus_beta1, double beta2,
                double one_minus_beta2, double eps, bool amsgrad, bool maximize,
                bool decoupled) {
    const size_t n = params.size();
    std::vector<int64_t> sizes;
    auto P = arrays_arg(params, "params", n, sizes, true);
    auto G = arrays_arg(grads, "grads", n, sizes, false);
    auto M = arrays_arg(exp_avgs, "exp_avgs", n, sizes, true);
    auto V = arrays_arg(exp_avg_sqs, "exp_avg_sqs", n, sizes, true);
    std::vector<float*> X;
    if (amsgrad) X = arrays_arg(max_exp_avg_sqs, "max_exp_avg_sqs", n, sizes, true);
    auto SS = doubles_arg(neg_step_sizes, "neg_step_sizes", n);
    auto BC = doubles_arg(bc2_sqrts, "bc2_sqrts", n);
    int64_t total = 0;
    const auto work = chunks_of(sizes, total);
    const float f_decay = (float)decay, f_wd = (float)weight_decay,
                f_omb1 = (float)one_minus_beta1, f_b2 = (float)beta2,
                f_omb2 = (float)one_minus_beta2, f_eps = (float)eps;
    const bool l2 = !decoupled && weight_decay != 0;
    static constexpr AdamRange variants[16] = {
        adam_variant<0>(),  adam_variant<1>(),  adam_variant<2>(),  adam_variant<3>(),
        adam_variant<4>(),  adam_variant<5>(),  adam_variant<6>(),  adam_variant<7>(),
        adam_variant<8>(),  adam_variant<9>(),  adam_variant<10>(), adam_variant<11>(),
        adam_variant<12>(), adam_variant<13>(), adam_variant<14>(), adam_variant<15>()};
    const AdamRange run = variants[(maximize ? 1 : 0) | (decoupled ? 2 : 0) | (l2 ? 4 : 0) |
                                   (amsgrad ? 8 : 0)];
    py::gil_scoped_release release;
#pragma omp parallel for schedule(static) if (total >= PARALLEL_MIN)
    for (int64_t w = 0; w < (int64_t)work.size(); ++w) {
        const Chunk c = work[w];
        const int64_t b = c.begin;
        run(P[c.tensor] + b, G[c.tensor] + b, M[c.tensor] + b, V[c.tensor] + b,
            amsgrad ? X[c.tensor] + b : nullptr, c.end - b, f_decay, f_wd, f_omb1, f_b2, f_omb2,
            f_eps, (float)SS[c.tensor], (float)BC[c.tensor]);
    }
}

// The per-element SGD update, one instantiation per flag combination (branch-free loops).
// INIT: the momentum buffer is new this step (torch: buf = grad.clone()).
template <bool MAXIMIZE, bool WD, bool MOMENTUM, bool INIT, bool NESTEROV>
void sgd_range(float* __restrict p, const float* __restrict g, float* __restrict b, int64_t n,
               float f_wd, float f_mom, float f_damp, float f_neg_lr) {
    for (int64_t i = 0; i < n; ++i) {
        float gi = MAXIMIZE ? -g[i] : g[i];
        if (WD) gi = fma_round_once(gi, f_wd, p[i]);
        if (MOMENTUM) {
            float bi = gi;
            if (!INIT) {
                bi = b[i] * f_mom;
                bi = fma_round_once(bi, f_damp, gi);
            }
            b[i] = bi;
            gi = NESTEROV ? fma_round_once(gi, f_mom, bi) : bi;
        }
        p[i] = fma_round_once(p[i], f_neg_lr, gi);
    }
}

using SgdRange = void (*)(float*, const float*, float*, int64_t, float, float, float, float);

template <int F>
constexpr SgdRange sgd_variant() {
    return &sgd_range<(F & 1) != 0, (F & 2) != 0, (F & 4) != 0, (F & 8) != 0, (F & 16) != 0>;
}

template <int... F>
constexpr std::array<SgdRange, sizeof...(F)> sgd_table(std::integer_sequence<int, F...>) {
    return {sgd_variant<F>()...};
}

// SGD (momentum, dampening, Nesterov, weight decay, maximize) over lists of float32 arrays, in
// place. `fresh[i]` marks a momentum buffer created this step (filled with the gradient).
void sgd_multi(py::list params, py::list grads, py::list bufs, py::list fresh_flags,
               double lr, double momentum, double dampening, double weight_decay, bool nesterov,
               bool maximize) {
    const size_t n = params.size();
    std::vector<int64_t> sizes;
    auto P = arrays_arg(params, "params", n, sizes, true);
    auto G = arrays_arg(grads, "grads", n, sizes, false);
    const bool has_momentum = momentum != 0;
    std::vector<float*> B;
    std::vector<char> fresh(n, 0);
    if (has_momentum) {
        B = arrays_arg(bufs, "bufs", n, sizes, true);
        if (fresh_flags.size() != n)
            throw py::value_error("fresh: expected " + std::to_string(n) + " flags");
        for (size_t i = 0; i < n; ++i) fresh[i] = fresh_flags[i].cast<bool>() ? 1 : 0;
    }
    int64_t total = 0;
    const auto work = chunks_of(sizes, total);
    const float f_wd = (float)weight_decay, f_mom = (float)momentum,
                f_damp = (float)(1 - dampening), f_neg_lr = (float)(-lr);
    static constexpr auto variants = sgd_table(std::make_integer_sequence<int, 32>{});
    const int flags = (maximize ? 1 : 0) | (weight_decay != 0 ? 2 : 0) |
                      (has_momentum ? 4 : 0) | (nesterov && has_momentum ? 16 : 0);
    py::gil_scoped_release release;
#pragma omp parallel for schedule(static) if (total >= PARALLEL_MIN)
    for (int64_t w = 0; w < (int64_t)work.size(); ++w) {
        const Chunk c = work[w];
        const int64_t b = c.begin;
        const bool init = has_momentum && fresh[c.tensor];
        variants[flags | (init ? 8 : 0)](P[c.tensor] + b, G[c.tensor] + b,
                                         has_momentum ? B[c.tensor] + b : nullptr, c.end - b,
                                         f_wd, f_mom, f_damp, f_neg_lr);
    }
}

}  // namespace

void register_optim(py::module_& m) {
    m.def("adam_multi", &adam_multi, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"),
          py::arg("exp_avg_sqs"), py::arg("max_exp_avg_sqs"), py::arg("neg_step_sizes"),
          py::arg("bc2_sqrts"), py::arg("decay"), py::arg("weight_decay"),
          py::arg("one_minus_beta1"), py::arg("beta2"), py::arg("one_minus_beta2"),
          py::arg("eps"), py::arg("amsgrad"), py::arg("maximize"), py::arg("decoupled"),
          "Adam/AdamW step over lists of float32 arrays in place (fastnn.optim's formula, "
          "bit-identical).");
    m.def("sgd_multi", &sgd_multi, py::arg("params"), py::arg("grads"), py::arg("bufs"),
          py::arg("fresh"), py::arg("lr"), py::arg("momentum"), py::arg("dampening"),
          py::arg("weight_decay"), py::arg("nesterov"), py::arg("maximize"),
          "SGD step over lists of float32 arrays in place (fastnn.optim's formula, "
          "bit-identical).");
}
