// Internal GEMM API shared by every kernel family (conv2d, lstm and attention lower to it).
#pragma once
#include <cstdint>
#include <string>

namespace fastnn {

enum class Act { None, Relu, Gelu, Sigmoid, Tanh };

// Parses None/"relu"/"gelu"/"sigmoid"/"tanh"; throws ValueError naming `activation` otherwise.
Act parse_activation(const std::string& name);

// C[M,N] = act(alpha * op(A) op(B) + beta * C + bias), row-major.
// op(A)(i,p) = trans_a ? A[p*lda + i] : A[i*lda + p]; op(B)(p,j) = trans_b ? B[j*ldb + p] : B[p*ldb + j].
// beta == 0 ignores C's old contents. bias may be null (length N otherwise).
// `parallel` = false keeps the call on the calling thread (for callers already inside OpenMP).
// Thread-safe and reentrant (packing buffers are thread_local); throws std::bad_alloc only if a
// thread's packing buffers (B: at most half the L2, e.g. 512 KB on a 1 MB L2; reused across
// calls) cannot be allocated.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc, const float* bias = nullptr, Act act = Act::None, bool parallel = true);

}  // namespace fastnn
