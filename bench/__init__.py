"""Benchmark harness: live gunicorn + PostgreSQL, each scenario measured next to a ceiling (see README)."""
