// conv2d, float32, NCHW: forward (fused bias + ReLU), backward_input, backward_weight (+bias).
//
// Version 1: implicit GEMM on packed im2col tiles, lowered to fastnn::sgemm (csrc/gemm.h).
//   The output pixels of one image and group are cut into tiles of PT columns; a tile's
//   (Cg*KH*KW) x PT column block is packed into a per-thread buffer that stays in L2 (never a
//   full im2col matrix), and one sgemm call per tile computes Y_tile = W_g . col_tile straight into
//   the NCHW output (ldc = OH*OW). 1x1 stride-1 unpadded convolutions skip the packing (x is the
//   column matrix). Work items (image, group, tile) are spread over OpenMP threads, each calling
//   sgemm with parallel=false.
//   backward_input: dcol_tile = W_g^T . dY_tile, then col2im scatter-adds it into dX; items are
//   (image, group) so no two threads write the same dX plane.
//   backward_weight: dW_g += dY_tile . col_tile^T (sgemm trans_b, beta=1) into per-thread partial
//   sums, reduced at the end; bias gradient is a per-channel sum.
#include <algorithm>
#include <cstring>
#include <vector>

#include "common.h"
#include "gemm.h"

namespace fastnn {
namespace {

struct ConvGeom {
    int64_t N, C, H, W;      // input
    int64_t OC, KH, KW;      // weight (OC, C/groups, KH, KW)
    int64_t OH, OW;          // output
    int64_t sh, sw, ph, pw, dh, dw, groups;
    int64_t Cg() const { return C / groups; }
    int64_t OCg() const { return OC / groups; }
    int64_t K() const { return Cg() * KH * KW; }
    int64_t P() const { return OH * OW; }
    bool pointwise() const {
        return KH == 1 && KW == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0;
    }
};

// Output-column range [lo, hi) of kernel column j whose input column lies inside [0, W).
inline void valid_range(int64_t j, int64_t s, int64_t p, int64_t d, int64_t W, int64_t OW,
                        int64_t* lo, int64_t* hi) {
    // iw = ow*s - p + j*d must satisfy 0 <= iw < W.
    const int64_t off = p - j * d;  // ow*s >= off  and  ow*s < W + off
    int64_t l = off <= 0 ? 0 : (off + s - 1) / s;
    int64_t h = (W + off) <= 0 ? 0 : (W + off + s - 1) / s;
    *lo = std::min(l, OW);
    *hi = std::max(std::min(h, OW), *lo);
}

// Packs columns [p0, p0+pt) of the im2col matrix of one image-group (xg: Cg planes of H*W) into
// col (K rows of ldcol floats).
void im2col_tile(const ConvGeom& g, const float* xg, int64_t p0, int64_t pt, float* col,
                 int64_t ldcol) {
    const int64_t HW = g.H * g.W;
    for (int64_t c = 0; c < g.Cg(); ++c) {
        const float* xc = xg + c * HW;
        for (int64_t i = 0; i < g.KH; ++i) {
            for (int64_t j = 0; j < g.KW; ++j) {
                float* dst = col + ((c * g.KH + i) * g.KW + j) * ldcol;
                int64_t lo, hi;
                valid_range(j, g.sw, g.pw, g.dw, g.W, g.OW, &lo, &hi);
                int64_t p = p0;
                const int64_t pend = p0 + pt;
                while (p < pend) {
                    const int64_t oh = p / g.OW, ow0 = p % g.OW;
                    const int64_t ow1 = std::min(g.OW, ow0 + (pend - p));
                    float* d = dst + (p - p0);
                    const int64_t ih = oh * g.sh - g.ph + i * g.dh;
                    if (ih < 0 || ih >= g.H) {
                        std::fill(d, d + (ow1 - ow0), 0.f);
                    } else {
                        const float* src = xc + ih * g.W - g.pw + j * g.dw;
                        const int64_t a = std::max(ow0, std::min(lo, ow1));
                        const int64_t b = std::max(a, std::min(hi, ow1));
                        for (int64_t ow = ow0; ow < a; ++ow) d[ow - ow0] = 0.f;
                        if (g.sw == 1) {
                            std::memcpy(d + (a - ow0), src + a, sizeof(float) * (b - a));
                        } else {
                            for (int64_t ow = a; ow < b; ++ow) d[ow - ow0] = src[ow * g.sw];
                        }
                        for (int64_t ow = b; ow < ow1; ++ow) d[ow - ow0] = 0.f;
                    }
                    p += ow1 - ow0;
                }
            }
        }
    }
}

// The adjoint of im2col_tile: adds the tile's columns back into dxg (Cg planes of H*W).
void col2im_tile(const ConvGeom& g, const float* col, int64_t ldcol, int64_t p0, int64_t pt,
                 float* dxg) {
    const int64_t HW = g.H * g.W;
    for (int64_t c = 0; c < g.Cg(); ++c) {
        float* dxc = dxg + c * HW;
        for (int64_t i = 0; i < g.KH; ++i) {
            for (int64_t j = 0; j < g.KW; ++j) {
                const float* srcrow = col + ((c * g.KH + i) * g.KW + j) * ldcol;
                int64_t lo, hi;
                valid_range(j, g.sw, g.pw, g.dw, g.W, g.OW, &lo, &hi);
                int64_t p = p0;
                const int64_t pend = p0 + pt;
                while (p < pend) {
                    const int64_t oh = p / g.OW, ow0 = p % g.OW;
                    const int64_t ow1 = std::min(g.OW, ow0 + (pend - p));
                    const int64_t ih = oh * g.sh - g.ph + i * g.dh;
                    if (ih >= 0 && ih < g.H) {
                        const float* s = srcrow + (p - p0) - ow0;
                        float* dst = dxc + ih * g.W - g.pw + j * g.dw;
                        const int64_t a = std::max(ow0, std::min(lo, ow1));
                        const int64_t b = std::max(a, std::min(hi, ow1));
                        if (g.sw == 1) {
                            for (int64_t ow = a; ow < b; ++ow) dst[ow] += s[ow];
                        } else {
                            for (int64_t ow = a; ow < b; ++ow) dst[ow * g.sw] += s[ow];
                        }
                    }
                    p += ow1 - ow0;
                }
            }
        }
    }
}

// Columns per tile: the packed tile (K x PT floats) should sit in L2 next to sgemm's own panels.
int64_t tile_cols(const ConvGeom& g) {
    const int64_t budget = 48 * 1024;  // floats (192 KiB)
    int64_t pt = budget / std::max<int64_t>(1, g.K());
    pt = std::max<int64_t>(64, (pt / 16) * 16);
    return std::min(pt, std::max<int64_t>(1, g.P()));
}

void bias_act(float* y, int64_t rows, int64_t cols, int64_t ld, const float* bias, int64_t oc0,
              bool relu) {
    for (int64_t r = 0; r < rows; ++r) {
        float* yr = y + r * ld;
        const float b = bias ? bias[oc0 + r] : 0.f;
        if (relu) {
            for (int64_t q = 0; q < cols; ++q) yr[q] = std::max(yr[q] + b, 0.f);
        } else if (bias) {
            for (int64_t q = 0; q < cols; ++q) yr[q] += b;
        }
    }
}

}  // namespace

void conv2d_forward_f32(const ConvGeom& g, const float* x, const float* w, const float* bias,
                        bool relu, float* y) {
    const int64_t K = g.K(), P = g.P(), OCg = g.OCg(), G = g.groups;
    if (g.N == 0 || OCg == 0 || P == 0) return;
    if (K == 0) {  // no input channels: the output is the bias alone
        for (int64_t n = 0; n < g.N; ++n)
            for (int64_t oc = 0; oc < g.OC; ++oc) {
                float v = bias ? bias[oc] : 0.f;
                if (relu) v = std::max(v, 0.f);
                std::fill(y + (n * g.OC + oc) * P, y + (n * g.OC + oc + 1) * P, v);
            }
        return;
    }
    const bool direct = g.pointwise();
    const int64_t PT = tile_cols(g);
    const int64_t ntiles = (P + PT - 1) / PT;
    const int64_t items = g.N * G * ntiles;
#pragma omp parallel
    {
        std::vector<float> col(direct ? 0 : K * PT);
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; ++it) {
            const int64_t t = it % ntiles, ng = it / ntiles, grp = ng % G, n = ng / G;
            const int64_t p0 = t * PT, pt = std::min(PT, P - p0);
            const float* xg = x + (n * g.C + grp * g.Cg()) * g.H * g.W;
            const float* wg = w + grp * OCg * K;
            float* yt = y + (n * g.OC + grp * OCg) * P + p0;
            const float* B;
            int64_t ldb;
            if (direct) {
                B = xg + p0;
                ldb = P;
            } else {
                im2col_tile(g, xg, p0, pt, col.data(), PT);
                B = col.data();
                ldb = PT;
            }
            sgemm(false, false, OCg, pt, K, 1.f, wg, K, B, ldb, 0.f, yt, P, nullptr, Act::None,
                  false);
            if (bias || relu) bias_act(yt, OCg, pt, P, bias, grp * OCg, relu);
        }
    }
}

void conv2d_backward_input_f32(const ConvGeom& g, const float* dy, const float* w, float* dx) {
    const int64_t K = g.K(), P = g.P(), OCg = g.OCg(), G = g.groups;
    const int64_t HW = g.H * g.W;
    std::fill(dx, dx + g.N * g.C * HW, 0.f);
    if (g.N == 0 || OCg == 0 || P == 0 || K == 0) return;
    const bool direct = g.pointwise();
    const int64_t PT = tile_cols(g);
    const int64_t ntiles = (P + PT - 1) / PT;
    const int64_t items = g.N * G;
    // With fewer images x groups than threads, parallelise inside sgemm instead.
    const bool outer = items >= max_threads();
#pragma omp parallel if (outer)
    {
        std::vector<float> col(direct ? 0 : K * PT);
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; ++it) {
            const int64_t grp = it % G, n = it / G;
            const float* dyg = dy + (n * g.OC + grp * OCg) * P;
            const float* wg = w + grp * OCg * K;
            float* dxg = dx + (n * g.C + grp * g.Cg()) * HW;
            if (direct) {  // dX_g (Cg x HW) = W_g^T (Cg x OCg) . dY_g (OCg x HW)
                sgemm(true, false, K, P, OCg, 1.f, wg, K, dyg, P, 0.f, dxg, P, nullptr,
                      Act::None, !outer);
                continue;
            }
            for (int64_t t = 0; t < ntiles; ++t) {
                const int64_t p0 = t * PT, pt = std::min(PT, P - p0);
                sgemm(true, false, K, pt, OCg, 1.f, wg, K, dyg + p0, P, 0.f, col.data(), PT,
                      nullptr, Act::None, !outer);
                col2im_tile(g, col.data(), PT, p0, pt, dxg);
            }
        }
    }
}

void conv2d_backward_weight_f32(const ConvGeom& g, const float* x, const float* dy, float* dw,
                                float* db) {
    const int64_t K = g.K(), P = g.P(), OCg = g.OCg(), G = g.groups;
    const int64_t wsize = g.OC * K;
    std::fill(dw, dw + wsize, 0.f);
    if (db) {
#pragma omp parallel for schedule(static) if (g.N * g.OC * P > 65536)
        for (int64_t oc = 0; oc < g.OC; ++oc) {
            double s = 0.0;
            for (int64_t n = 0; n < g.N; ++n) {
                const float* r = dy + (n * g.OC + oc) * P;
                float acc = 0.f;
                for (int64_t p = 0; p < P; ++p) acc += r[p];
                s += acc;
            }
            db[oc] = (float)s;
        }
    }
    if (g.N == 0 || OCg == 0 || P == 0 || K == 0) return;
    const bool direct = g.pointwise();
    const int64_t PT = tile_cols(g);
    const int64_t ntiles = (P + PT - 1) / PT;
    const int64_t items = g.N * G * ntiles;
    const int nthreads = (int)std::max<int64_t>(1, std::min<int64_t>(max_threads(), items));
    // Thread 0 accumulates straight into dw; the others into partial sums reduced below.
    std::vector<float> partial((size_t)(nthreads - 1) * wsize, 0.f);
#pragma omp parallel num_threads(nthreads)
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num();
#else
        const int tid = 0;
#endif
        float* acc = tid == 0 ? dw : partial.data() + (int64_t)(tid - 1) * wsize;
        std::vector<float> col(direct ? 0 : K * PT);
        // Static blocks of consecutive items: one thread mostly stays on one group's dW block.
#pragma omp for schedule(static)
        for (int64_t it = 0; it < items; ++it) {
            const int64_t t = it % ntiles, ng = it / ntiles, grp = ng % G, n = ng / G;
            const int64_t p0 = t * PT, pt = std::min(PT, P - p0);
            const float* xg = x + (n * g.C + grp * g.Cg()) * g.H * g.W;
            const float* dyt = dy + (n * g.OC + grp * OCg) * P + p0;
            const float* B;
            int64_t ldb;
            if (direct) {
                B = xg + p0;
                ldb = P;
            } else {
                im2col_tile(g, xg, p0, pt, col.data(), PT);
                B = col.data();
                ldb = PT;
            }
            // dW_g (OCg x K) += dY_tile (OCg x pt) . col_tile^T (pt x K)
            sgemm(false, true, OCg, K, pt, 1.f, dyt, P, B, ldb, 1.f, acc + grp * OCg * K, K,
                  nullptr, Act::None, false);
        }
    }
    for (int t = 1; t < nthreads; ++t) {
        const float* src = partial.data() + (int64_t)(t - 1) * wsize;
        for (int64_t i = 0; i < wsize; ++i) dw[i] += src[i];
    }
}

}  // namespace fastnn

// ------------------------------------------------------------------------------------ bindings

namespace {

using fastnn::ConvGeom;

int64_t int_item(const py::handle& o, const char* name) {
    try {
        return o.cast<int64_t>();
    } catch (const py::cast_error&) {
        throw py::type_error(std::string(name) + ": expected ints");
    }
}

std::vector<int64_t> ints_arg(const py::handle& o, const char* name, size_t count) {
    if (!py::isinstance<py::sequence>(o) || py::isinstance<py::str>(o) ||
        py::len(o) != count)
        throw py::type_error(std::string(name) + ": expected a tuple of " +
                             std::to_string(count) + " ints");
    std::vector<int64_t> v;
    for (auto e : py::reinterpret_borrow<py::sequence>(o)) v.push_back(int_item(e, name));
    return v;
}

std::pair<int64_t, int64_t> pair_arg(const py::handle& o, const char* name, int64_t minimum) {
    std::vector<int64_t> v = ints_arg(o, name, 2);
    if (v[0] < minimum || v[1] < minimum)
        throw py::value_error(std::string(name) + ": expected values >= " +
                              std::to_string(minimum) + ", got (" + std::to_string(v[0]) + ", " +
                              std::to_string(v[1]) + ")");
    return {v[0], v[1]};
}

std::vector<int64_t> shape_arg(const py::handle& o, const char* name) {
    std::vector<int64_t> v = ints_arg(o, name, 4);
    for (int64_t d : v)
        if (d < 0) throw py::value_error(std::string(name) + ": sizes must be >= 0");
    return v;
}

// Fills and checks the geometry; x_shape (N, C, H, W), w_shape (OC, Cg, KH, KW).
ConvGeom make_geom(const std::vector<int64_t>& xs, const std::vector<int64_t>& ws,
                   const py::handle& stride, const py::handle& padding,
                   const py::handle& dilation, int64_t groups) {
    ConvGeom g;
    g.N = xs[0], g.C = xs[1], g.H = xs[2], g.W = xs[3];
    g.OC = ws[0], g.KH = ws[2], g.KW = ws[3];
    std::tie(g.sh, g.sw) = pair_arg(stride, "stride", 1);
    std::tie(g.ph, g.pw) = pair_arg(padding, "padding", 0);
    std::tie(g.dh, g.dw) = pair_arg(dilation, "dilation", 1);
    if (groups < 1) throw py::value_error("groups: expected a positive int");
    g.groups = groups;
    if (g.C % groups || g.OC % groups)
        throw py::value_error("groups: " + std::to_string(groups) +
                              " must divide the input channels (" + std::to_string(g.C) +
                              ") and the output channels (" + std::to_string(g.OC) + ")");
    if (ws[1] * groups != g.C)
        throw py::value_error("w: channel mismatch: input has " + std::to_string(g.C) +
                              " channels but the weight expects " +
                              std::to_string(ws[1] * groups));
    if (g.KH < 1 || g.KW < 1) throw py::value_error("w: kernel size must be >= 1");
    const int64_t eh = g.dh * (g.KH - 1) + 1, ew = g.dw * (g.KW - 1) + 1;
    const int64_t hp = g.H + 2 * g.ph, wp = g.W + 2 * g.pw;
    if (eh > hp || ew > wp)
        throw py::value_error("w: kernel extent is larger than the padded input");
    g.OH = (hp - eh) / g.sh + 1;
    g.OW = (wp - ew) / g.sw + 1;
    return g;
}

std::vector<int64_t> shape_of(const py::array& a) {
    return {a.shape(0), a.shape(1), a.shape(2), a.shape(3)};
}

py::array forward_py(py::array x, py::array w, py::object bias, py::object stride,
                     py::object padding, py::object dilation, int64_t groups,
                     py::object activation) {
    using namespace fastnn;
    check_f32(x, "x", 4);
    check_f32(w, "w", 4);
    ConvGeom g = make_geom(shape_of(x), shape_of(w), stride, padding, dilation, groups);
    const float* bias_p = opt_ptr(bias, "bias", g.OC);
    bool relu = false;
    if (!activation.is_none()) {
        const std::string a = activation.cast<std::string>();
        if (a != "relu")
            throw py::value_error("activation: expected None or 'relu', got '" + a + "'");
        relu = true;
    }
    py::array y = empty_f32({g.N, g.OC, g.OH, g.OW});
    const float* xp = fptr(x);
    const float* wp = fptr(w);
    float* yp = fptr_mut(y);
    {
        py::gil_scoped_release nogil;
        conv2d_forward_f32(g, xp, wp, bias_p, relu, yp);
    }
    return y;
}

py::array backward_input_py(py::array grad_out, py::array w, py::object input_shape,
                            py::object stride, py::object padding, py::object dilation,
                            int64_t groups) {
    using namespace fastnn;
    check_f32(grad_out, "grad_out", 4);
    check_f32(w, "w", 4);
    ConvGeom g = make_geom(shape_arg(input_shape, "input_shape"), shape_of(w), stride, padding,
                           dilation, groups);
    check_dim(grad_out, "grad_out", 0, g.N);
    check_dim(grad_out, "grad_out", 1, g.OC);
    check_dim(grad_out, "grad_out", 2, g.OH);
    check_dim(grad_out, "grad_out", 3, g.OW);
    py::array dx = empty_f32({g.N, g.C, g.H, g.W});
    const float* dyp = fptr(grad_out);
    const float* wp = fptr(w);
    float* dxp = fptr_mut(dx);
    {
        py::gil_scoped_release nogil;
        conv2d_backward_input_f32(g, dyp, wp, dxp);
    }
    return dx;
}

py::tuple backward_weight_py(py::array x, py::array grad_out, py::object weight_shape,
                             py::object stride, py::object padding, py::object dilation,
                             int64_t groups, bool need_bias) {
    using namespace fastnn;
    check_f32(x, "x", 4);
    check_f32(grad_out, "grad_out", 4);
    std::vector<int64_t> ws = shape_arg(weight_shape, "weight_shape");
    ConvGeom g = make_geom(shape_of(x), ws, stride, padding, dilation, groups);
    check_dim(grad_out, "grad_out", 0, g.N);
    check_dim(grad_out, "grad_out", 1, g.OC);
    check_dim(grad_out, "grad_out", 2, g.OH);
    check_dim(grad_out, "grad_out", 3, g.OW);
    py::array dw = empty_f32({ws[0], ws[1], ws[2], ws[3]});
    py::object db = py::none();
    float* dbp = nullptr;
    if (need_bias) {
        py::array b = empty_f32({g.OC});
        dbp = fptr_mut(b);
        db = b;
    }
    const float* xp = fptr(x);
    const float* dyp = fptr(grad_out);
    float* dwp = fptr_mut(dw);
    {
        py::gil_scoped_release nogil;
        conv2d_backward_weight_f32(g, xp, dyp, dwp, dbp);
    }
    return py::make_tuple(dw, db);
}

}  // namespace

void register_conv2d(py::module_& m) {
    m.def("conv2d_forward", &forward_py, py::arg("x"), py::arg("w"), py::arg("bias"),
          py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups"),
          py::arg("activation"),
          "NCHW float32 conv2d with fused bias and optional ReLU (see fastnn.backends.contract).");
    m.def("conv2d_backward_input", &backward_input_py, py::arg("grad_out"), py::arg("w"),
          py::arg("input_shape"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
          py::arg("groups"), "Gradient of conv2d_forward with respect to x.");
    m.def("conv2d_backward_weight", &backward_weight_py, py::arg("x"), py::arg("grad_out"),
          py::arg("weight_shape"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
          py::arg("groups"), py::arg("need_bias"),
          "Gradients of conv2d_forward with respect to w and bias: (grad_w, grad_bias or None).");
}
