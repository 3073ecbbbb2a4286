"""vocwatch core: what every package shares — settings, errors, metrics, the typed domain
vocabulary, the Redis key layout, clean process stops — and the developer tooling around
the service: the command line (:mod:`vocwatch.cli`), the embedded dev stack and demo
traffic (:mod:`vocwatch.dev`) and the benchmarks (:mod:`vocwatch.bench`).

The service itself lives in three packages: ``classifiers`` (pure text intelligence),
``alerts`` (windows, rules, alert state, delivery) and ``streams`` (the streaming runtime).
docs/architecture.md maps the flow through them.
"""

__version__ = "0.1.0"
