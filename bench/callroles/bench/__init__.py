"""Benchmarks: speed and memory targets, results written as JSON."""
