"""Benchmarks that print figures; CI never asserts on their timing."""
