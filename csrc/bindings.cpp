// The fastnn._C_<isa> module: one per ISA level (see setup.py); each kernel family registers
// itself from its own .cpp file.
#include "common.h"

static bool cpu_supports(const std::string& feature) {
#if defined(__x86_64__) || defined(_M_X64)
    __builtin_cpu_init();
    if (feature == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (feature == "avx512")
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    if (feature == "baseline") return true;
    throw py::value_error("feature: expected one of baseline, avx2, avx512, got " + feature);
#else
    return feature == "baseline";
#endif
}

PYBIND11_MODULE(FASTNN_MODULE, m) {
    m.doc() = "fastnn compiled kernels (ISA level " FASTNN_ISA ")";
    m.attr("ISA") = FASTNN_ISA;
    m.def("cpu_supports", &cpu_supports, py::arg("feature"),
          "Whether this CPU runs the given ISA level: baseline, avx2 (with FMA) or avx512 (F/BW/VL/DQ).");
    m.def("set_num_threads", [](int n) {
        if (n < 1) throw py::value_error("n: expected a positive thread count");
#ifdef _OPENMP
        omp_set_num_threads(n);
#endif
    }, py::arg("n"));
    m.def("get_num_threads", &fastnn::max_threads);
    register_gemm(m);
    register_conv2d(m);
    register_pooling(m);
    register_lstm(m);
    register_attention(m);
    register_roof(m);
    register_optim(m);
    register_gemm_batched(m);
    register_softmax(m);
    register_eltwise(m);
}
