"""pytest-benchmark: attention, one group per shape; parameters are the fastnn backends and the
references (shapes, FLOPs and validation from benchmarks/common.py)."""

from benchmarks.common import generate, run


def pytest_generate_tests(metafunc):
    generate(metafunc, "attention")


def test_attention(benchmark, case, contender):
    run(benchmark, case, contender)
