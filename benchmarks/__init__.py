"""Benchmarks: citylake against bare Spark, measured in the same run on the same file."""
