// Batched GEMM: out[i] = alpha * op(a[i]) @ op(b[i]) for i < n, in one call.
//
// The unfused attention path (dropout > 0) multiplies B*H small per-head matrices (64x64x32 in
// the Transformer training race); one Python-level gemm call per head cost a pybind call and,
// at 2 threads, an OpenMP fork/join each. Here the heads are split across the threads (each
// head one single-threaded sgemm, the same code as the 2-D gemm kernel, so each head's result
// is bit-identical to a gemm call on it); with fewer heads than threads each head gets the
// threaded sgemm instead.
#include "common.h"
#include "gemm.h"

#include <atomic>

namespace {

py::array gemm_batched_py(py::array a, py::array b, bool trans_a, bool trans_b, double alpha,
                          py::object out) {
    using namespace fastnn;
    check_f32(a, "a", 3);
    check_f32(b, "b", 3);
    const int64_t n = a.shape(0);
    check_dim(b, "b", 0, n);
    const int64_t M = trans_a ? a.shape(2) : a.shape(1), K = trans_a ? a.shape(1) : a.shape(2);
    const int64_t Kb = trans_b ? b.shape(2) : b.shape(1), N = trans_b ? b.shape(1) : b.shape(2);
    if (K != Kb)
        throw py::value_error("b: inner dimensions do not match: op(a[i]) is " +
                              std::to_string(M) + "x" + std::to_string(K) + ", op(b[i]) is " +
                              std::to_string(Kb) + "x" + std::to_string(N));
    py::array c;
    if (out.is_none()) {
        c = empty_f32({n, M, N});
    } else {
        if (!py::isinstance<py::array>(out))
            throw py::type_error("out: expected a float32 array or None");
        c = py::reinterpret_borrow<py::array>(out);
        check_f32(c, "out", 3);
        check_writable(c, "out");
        check_dim(c, "out", 0, n);
        check_dim(c, "out", 1, M);
        check_dim(c, "out", 2, N);
    }
    const float* A = fptr(a);
    const float* B = fptr(b);
    float* C = fptr_mut(c);
    const int64_t sa = a.shape(1) * a.shape(2), sb = b.shape(1) * b.shape(2), sc = M * N;
    const int64_t lda = a.shape(2), ldb = b.shape(2);
    {
        py::gil_scoped_release nogil;
        const bool by_head = n >= max_threads() && n > 1;
        if (!by_head) {
            for (int64_t i = 0; i < n; ++i)
                sgemm(trans_a, trans_b, M, N, K, (float)alpha, A + i * sa, lda, B + i * sb, ldb,
                      0.0f, C + i * sc, N);
        } else {
            std::atomic<bool> out_of_memory{false};
#pragma omp parallel for schedule(static)
            for (int64_t i = 0; i < n; ++i) {
                try {
                    sgemm(trans_a, trans_b, M, N, K, (float)alpha, A + i * sa, lda, B + i * sb,
                          ldb, 0.0f, C + i * sc, N, nullptr, Act::None, false);
                } catch (const std::bad_alloc&) {
                    out_of_memory = true;
                }
            }
            if (out_of_memory) throw std::bad_alloc();
        }
    }
    return c;
}

}  // namespace

void register_gemm_batched(py::module_& m) {
    m.def("gemm_batched", &gemm_batched_py, py::arg("a"), py::arg("b"),
          py::arg("trans_a") = false, py::arg("trans_b") = false, py::arg("alpha") = 1.0,
          py::arg("out") = py::none(),
          "out[i] = alpha * op(a[i]) @ op(b[i]) over 3-D float32 C-contiguous arrays.");
}
