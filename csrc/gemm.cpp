// GEMM, float32.
// Version 1 (placeholder until the packed kernel lands): i-p-j loop order, OpenMP over rows.
#include "gemm.h"

#include <cmath>

#include "common.h"

namespace fastnn {

Act parse_activation(const std::string& name) {
    if (name == "relu") return Act::Relu;
    if (name == "gelu") return Act::Gelu;
    if (name == "sigmoid") return Act::Sigmoid;
    if (name == "tanh") return Act::Tanh;
    throw py::value_error("activation: expected None, 'relu', 'gelu', 'sigmoid' or 'tanh', got '" +
                          name + "'");
}

static inline float apply_act(float x, Act act) {
    switch (act) {
        case Act::Relu: return x > 0.f ? x : 0.f;
        case Act::Gelu: return 0.5f * x * (1.f + std::erf(x * 0.70710678118654752f));
        case Act::Sigmoid: return 1.f / (1.f + std::exp(-x));
        case Act::Tanh: return std::tanh(x);
        default: return x;
    }
}

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
           const float* bias, Act act, bool parallel) {
#pragma omp parallel for schedule(static) if (parallel && M * N * K > 32768)
    for (int64_t i = 0; i < M; ++i) {
        float* c = C + i * ldc;
        for (int64_t j = 0; j < N; ++j) c[j] = beta == 0.f ? 0.f : beta * c[j];
        for (int64_t p = 0; p < K; ++p) {
            float a = alpha * (ta ? A[p * lda + i] : A[i * lda + p]);
            if (tb)
                for (int64_t j = 0; j < N; ++j) c[j] += a * B[j * ldb + p];
            else
                for (int64_t j = 0; j < N; ++j) c[j] += a * B[p * ldb + j];
        }
        for (int64_t j = 0; j < N; ++j) c[j] = apply_act(c[j] + (bias ? bias[j] : 0.f), act);
    }
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
    const float* bias_p = opt_ptr(bias, "bias", N);
    Act act = activation.is_none() ? Act::None : parse_activation(activation.cast<std::string>());
    py::array c;
    if (out.is_none()) {
        c = empty_f32({M, N});
        beta = 0.0;
    } else {
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
