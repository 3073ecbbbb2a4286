"""The streaming runtime (流处理): event contracts and decoding, the Faust app and its
agents, the batch pipeline, the analysis process, the HTTP API and the live console.
Developer tooling (the command line, the embedded dev stack, demo traffic, benchmarks)
lives in :mod:`vocwatch`; docs/architecture.md maps the whole flow."""
