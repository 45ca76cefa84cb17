"""Build-speed and paywall benchmarks: a synthetic corpus, the tools that build it,
and a bounded load generator for the paywall. Run `python -m bench --help`."""
