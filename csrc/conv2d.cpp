// conv2d kernels: not yet written (the conv2d family falls back to reference; see fastnn.backends.table()).
#include "common.h"

void register_conv2d(py::module_& m) { (void)m; }
