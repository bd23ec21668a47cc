"""Star-imports modules that may not exist yet: a package lists the files it gathers, and each file
names its public objects in ``__all__``. Lets each kernel family add its functional API, modules and
Functions in its own file without editing a shared one."""

import importlib
import importlib.util


def gather(namespace: dict, package: str, modules) -> list:
    names = []
    for m in modules:
        full = f"{package}.{m}"
        if importlib.util.find_spec(full) is None:
            continue
        mod = importlib.import_module(full)
        for name in getattr(mod, "__all__", ()):
            namespace[name] = getattr(mod, name)
            names.append(name)
    return names
