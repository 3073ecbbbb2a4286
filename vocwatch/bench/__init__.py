"""Benchmarks (基准测试): ``vocwatch bench`` (:mod:`vocwatch.bench.harness`) and the scale-out
check ``python -m vocwatch.bench.two_workers``. Speed targets live here, not in the test
suite; figures and how to read them are in docs/performance.md."""
