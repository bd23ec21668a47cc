"""pytest-benchmark: gemm, one group per shape; parameters are the fastnn backends and the
references (shapes, FLOPs and validation from benchmarks/common.py)."""

from benchmarks.common import generate, run


def pytest_generate_tests(metafunc):
    generate(metafunc, "gemm")


def test_gemm(benchmark, case, contender):
    run(benchmark, case, contender)
