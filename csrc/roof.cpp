// Machine roofs, measured rather than assumed, so benchmarks can report "% of peak".
//   roof_fma:  float32 FMA peak. Each thread runs 2*NREG/3 independent register-resident FMA
//              chains on the widest vectors of this ISA variant (zmm for avx512, ymm for avx2,
//              4-lane SSE mul+add for baseline), enough chains to cover FMA latency x throughput;
//              per-thread rates over each thread's own CPU time, summed (so other processes on
//              a shared machine do not lower the roof).
//              Zen 4 (this machine): about 233 GFLOP/s on 2 threads with AVX-512 or AVX2.
//   roof_copy: memory copy bandwidth, read + write bytes counted, our own vector loop over
//              buffers much larger than the caches.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "common.h"
#include "simd.h"

namespace {

using fastnn::simd::vf;
namespace simd = fastnn::simd;
constexpr int CHAINS = simd::NREG - 2;  // 30 zmm chains for avx512, 14 for avx2/baseline
constexpr int64_t ITERS = 4096;             // FMAs per chain between clock reads

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// CPU time of the calling thread: the FMA roof is a property of the core, so time taken away by
// other processes on a shared machine must not count (wall time where there is no such clock).
double thread_cpu_now() {
#if defined(CLOCK_THREAD_CPUTIME_ID)
    timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) return ts.tv_sec + 1e-9 * ts.tv_nsec;
#endif
    return now();
}

#if defined(__AVX512F__)
#define FASTNN_KEEP(x) __asm__ volatile("" : "+v"(x))  // any of zmm0-31
#elif defined(__x86_64__)
#define FASTNN_KEEP(x) __asm__ volatile("" : "+x"(x))
#else
#define FASTNN_KEEP(x) (void)0
#endif

// ITERS rounds of CHAINS independent FMAs; the chains live in registers for the whole burst
// (a local copy, so GCC keeps them out of memory) and the empty asm stops it from folding rounds.
__attribute__((noinline)) void fma_burst(vf* state, vf m, vf k) {
    vf acc[CHAINS];
#pragma GCC unroll 32
    for (int c = 0; c < CHAINS; ++c) acc[c] = state[c];
    for (int64_t i = 0; i < ITERS; ++i) {
#pragma GCC unroll 32
        for (int c = 0; c < CHAINS; ++c) acc[c] = simd::fmadd(acc[c], m, k);
#pragma GCC unroll 32
        for (int c = 0; c < CHAINS; ++c) FASTNN_KEEP(acc[c]);
    }
#pragma GCC unroll 32
    for (int c = 0; c < CHAINS; ++c) state[c] = acc[c];
}

// Runs for about `seconds` of this thread's CPU time; returns FMA instructions per CPU second.
double fma_rate(double seconds, float seed) {
    alignas(64) vf acc[CHAINS];
    for (int c = 0; c < CHAINS; ++c) acc[c] = simd::set1(seed + 0.001f * c);
    const vf m = simd::set1(0.999999f), k = simd::set1(1e-6f);
    int64_t n = 0;
    const double t0 = thread_cpu_now();
    double t = t0;
    do {
        fma_burst(acc, m, k);
        n += ITERS;
        t = thread_cpu_now();
    } while (t < t0 + seconds);
    float s = 0.f;
    for (int c = 0; c < CHAINS; ++c) s += simd::hsum(acc[c]);
    volatile float sink = s;
    (void)sink;
    return (double)n * CHAINS / (t - t0);
}

double roof_fma(double seconds, int threads) {
    if (!(seconds > 0) || seconds > 60)
        throw py::value_error("seconds: expected a duration in (0, 60]");
    if (threads < 0) throw py::value_error("threads: expected >= 0 (0 = all OpenMP threads)");
    py::gil_scoped_release nogil;
    const int nt = threads == 0 ? fastnn::max_threads() : threads;
    double rate = 0;  // FMA instructions per second, summed over threads
    fma_rate(std::min(seconds, 0.02), 1.f);  // warm up clocks on the calling thread
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) reduction(+ : rate)
#endif
    rate += fma_rate(seconds, 1.f);
    return rate * simd::W * 2.0 / 1e9;  // flops = FMA instructions * lanes * 2
}

double roof_copy(int64_t nbytes, int reps) {
    if (nbytes < (int64_t)(2 * 64 * sizeof(float)) || nbytes > (int64_t(1) << 34))
        throw py::value_error("nbytes: expected between 512 bytes and 16 GiB");
    if (reps < 1) throw py::value_error("reps: expected >= 1");
    // nbytes is the traffic of one pass: nbytes/2 read from src, nbytes/2 written to dst.
    const int64_t n = (nbytes / 2 / sizeof(float)) / 64 * 64;
    float* src = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
    float* dst = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
    if (!src || !dst) {
        std::free(src);
        std::free(dst);
        throw std::bad_alloc();
    }
    double best = 1e300;
    {
        py::gil_scoped_release nogil;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
        for (int64_t i = 0; i < n; i += 64) {  // first touch, on the threads that copy
            for (int j = 0; j < 64; ++j) src[i + j] = 1.f, dst[i + j] = 0.f;
        }
        for (int r = 0; r < reps; ++r) {
            const double t0 = now();
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
            for (int64_t i = 0; i < n; i += 64) {
#pragma GCC unroll 16
                for (int j = 0; j < 64; j += simd::W)
                    simd::store(dst + i + j, simd::load(src + i + j));
            }
            best = std::min(best, now() - t0);
        }
    }
    const volatile float sink = dst[n - 1];
    (void)sink;
    std::free(src);
    std::free(dst);
    return 2.0 * (double)n * sizeof(float) / best / 1e9;
}

}  // namespace

void register_roof(py::module_& m) {
    m.def("roof_fma", &roof_fma, py::arg("seconds") = 0.2, py::arg("threads") = 0,
          "Measured float32 FMA peak in GFLOP/s: register-resident independent FMA chains on the "
          "widest vectors of this ISA variant, on `threads` OpenMP threads (0 = all).");
    m.def("roof_copy", &roof_copy, py::arg("nbytes") = int64_t(1) << 28, py::arg("reps") = 3,
          "Measured memory copy bandwidth in GB/s (bytes read + written; best of `reps` passes; "
          "nbytes = traffic of one pass, half read and half written).");
}
