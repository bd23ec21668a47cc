// lstm kernels: not yet written (the lstm family falls back to reference; see fastnn.backends.table()).
#include "common.h"

void register_lstm(py::module_& m) { (void)m; }
