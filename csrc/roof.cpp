// roof kernels: not yet written (the roof family falls back to reference; see fastnn.backends.table()).
#include "common.h"

void register_roof(py::module_& m) { (void)m; }
