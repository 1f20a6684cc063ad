"""aqbot benchmarks. Every figure is a ratio measured in one run (see ``python -m bench --help``)."""
