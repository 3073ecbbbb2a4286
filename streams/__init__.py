"""The streaming side (流处理): event contracts, the Faust app and agents, the CLI."""
