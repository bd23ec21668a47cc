"""The conformance suite: tests marked ``conformance`` (every op_db/module_db entry, minutes) run
only when asked for with ``-m conformance``; the fixed sample and the harness tests run always."""

import pytest


def pytest_collection_modifyitems(config, items):
    if "conformance" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(reason="the full conformance run: select it with -m conformance")
    for item in items:
        if item.get_closest_marker("conformance") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def databases():
    from fastnn import compat

    op_db, module_db = compat.load_databases()
    return {"op_db": {compat.op_name(o): o for o in op_db},
            "module_db": {m.name: m for m in module_db}}
