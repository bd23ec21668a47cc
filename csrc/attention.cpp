// attention kernels: not yet written (the attention family falls back to reference; see fastnn.backends.table()).
#include "common.h"

void register_attention(py::module_& m) { (void)m; }
