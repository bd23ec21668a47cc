// Shared helpers for the fastnn C++ extension: argument checks that raise Python exceptions
// naming the argument, and the ISA/threading helpers every kernel family uses.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <utility>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef FASTNN_ISA
#define FASTNN_ISA "baseline"
#endif

namespace py = pybind11;

namespace fastnn {

// Raise TypeError unless `a` is a float32 C-contiguous array with `ndim` dimensions.
inline void check_f32(const py::array& a, const char* name, int ndim) {
    if (!py::isinstance<py::array_t<float>>(a) || !a.dtype().is(py::dtype::of<float>()))
        throw py::type_error(std::string(name) + ": expected a float32 array, got dtype " +
                             std::string(py::str(a.dtype())));
    if (a.ndim() != ndim)
        throw py::value_error(std::string(name) + ": expected " + std::to_string(ndim) +
                              "-D array, got " + std::to_string(a.ndim()) + "-D");
    if (!(a.flags() & py::array::c_style))
        throw py::value_error(std::string(name) + ": expected a C-contiguous array");
}

inline void check_writable(const py::array& a, const char* name) {
    if (!a.writeable()) throw py::value_error(std::string(name) + ": array is read-only");
}

inline void check_dim(const py::array& a, const char* name, int axis, int64_t want) {
    if (a.shape(axis) != want)
        throw py::value_error(std::string(name) + ": expected size " + std::to_string(want) +
                              " in dimension " + std::to_string(axis) + ", got " +
                              std::to_string(a.shape(axis)));
}

// Optional float32 array argument (None allowed).
inline const float* opt_ptr(const py::object& o, const char* name, int64_t len) {
    if (o.is_none()) return nullptr;
    // a float, str or tuple reinterpreted as an array reads arbitrary memory: refuse it first
    if (!py::isinstance<py::array>(o))
        throw py::type_error(std::string(name) + ": expected a float32 array or None, got " +
                             std::string(py::str(py::type::of(o).attr("__name__"))));
    py::array a = py::reinterpret_borrow<py::array>(o);
    check_f32(a, name, 1);
    check_dim(a, name, 0, len);
    return static_cast<const float*>(a.data());
}

inline const float* fptr(const py::array& a) { return static_cast<const float*>(a.data()); }
inline float* fptr_mut(py::array& a) { return static_cast<float*>(a.mutable_data()); }

// A new float32 array whose data is 64-byte aligned (NumPy's own allocations are 16-byte
// aligned), so kernels can use aligned and non-temporal vector stores on it.
inline py::array_t<float> empty_f32(std::vector<py::ssize_t> shape) {
    py::ssize_t n = 1;
    for (py::ssize_t d : shape) n *= d;
    const size_t bytes = ((size_t)std::max<py::ssize_t>(n, 1) * sizeof(float) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, bytes);
    if (!p) throw std::bad_alloc();
    py::capsule owner(p, [](void* q) { std::free(q); });
    return py::array_t<float>(shape, static_cast<float*>(p), owner);
}

// Int-tuple arguments of the kernel bindings (conv2d, pooling): TypeError/ValueError naming the
// argument.
inline int64_t int_item(const py::handle& o, const char* name) {
    try {
        return o.cast<int64_t>();
    } catch (const py::cast_error&) {
        throw py::type_error(std::string(name) + ": expected ints");
    }
}

inline std::vector<int64_t> ints_arg(const py::handle& o, const char* name, size_t count) {
    if (!py::isinstance<py::sequence>(o) || py::isinstance<py::str>(o) ||
        py::len(o) != count)
        throw py::type_error(std::string(name) + ": expected a tuple of " +
                             std::to_string(count) + " ints");
    std::vector<int64_t> v;
    for (auto e : py::reinterpret_borrow<py::sequence>(o)) v.push_back(int_item(e, name));
    return v;
}

inline std::pair<int64_t, int64_t> pair_arg(const py::handle& o, const char* name, int64_t minimum) {
    std::vector<int64_t> v = ints_arg(o, name, 2);
    if (v[0] < minimum || v[1] < minimum)
        throw py::value_error(std::string(name) + ": expected values >= " +
                              std::to_string(minimum) + ", got (" + std::to_string(v[0]) + ", " +
                              std::to_string(v[1]) + ")");
    return {v[0], v[1]};
}

inline std::vector<int64_t> shape_arg(const py::handle& o, const char* name) {
    std::vector<int64_t> v = ints_arg(o, name, 4);
    for (int64_t d : v)
        if (d < 0) throw py::value_error(std::string(name) + ": sizes must be >= 0");
    return v;
}

inline std::vector<int64_t> shape_of(const py::array& a) {
    return {a.shape(0), a.shape(1), a.shape(2), a.shape(3)};
}

inline int max_threads() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

}  // namespace fastnn

// Each kernel family registers its functions from its own .cpp (bindings.cpp calls these).
void register_gemm(py::module_& m);
void register_conv2d(py::module_& m);
void register_pooling(py::module_& m);
void register_lstm(py::module_& m);
void register_attention(py::module_& m);
void register_roof(py::module_& m);
void register_optim(py::module_& m);
void register_gemm_batched(py::module_& m);
void register_softmax(py::module_& m);
void register_eltwise(py::module_& m);
