// Batched GEMM: out[i] = alpha * op(a[i]) @ op(b[i]) for i < n, in one call.
//
// The unfused attention path (dropout > 0) multiplies B*H small per-head matrices (64x64x32 in
// the Transformer training race); one Python-level gemm call per head cost a pybind call, a
// view and an argument check each. Here one call loops over the heads in C++, each head the
// same sgemm as the 2-D gemm kernel (so bit-identical to a gemm call on it, threaded by the
// same rule: heads below sgemm's threading threshold run on the calling thread).
//
// Version 1 split the heads across the OpenMP threads: 2-3x slower than the per-head calls at
// 2 threads on the shared 2-core machine (load average 2.4: QK^T 1.01 -> 8.0 ms; load 8.7:
// 2.9 -> 19.2 ms; one region waits on a descheduled worker, while the per-head calls never
// entered OpenMP). It may win on a quiet machine; not measured there, so not kept.
// Version 2 (this), 128 heads, load 3.1, vs the per-head calls: 2 threads QK^T 0.592 -> 0.473 ms
// (1.25x), PV 0.573 -> 0.433 ms (1.32x); 1 thread 1.26x, 1.30x
// (PYTHONPATH=. python benchmarks/gemm_batched_ab.py 2, then 1).
#include "common.h"
#include "gemm.h"

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
        // each head threaded by sgemm's own rule (as the per-head calls were): splitting small
        // heads across threads measured 0.13-0.16x on the busy 2-core machine (see header)
        for (int64_t i = 0; i < n; ++i)
            sgemm(trans_a, trans_b, M, N, K, (float)alpha, A + i * sa, lda, B + i * sb, ldb, 0.0f,
                  C + i * sc, N);
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
