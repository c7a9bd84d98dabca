"""Benchmarks: atom-hubspot side by side with HubSpot's official Python SDK.

Each module is one command (`python -m bench.<name>`, or `python -m bench.run <name>`) that
measures both sides in the same run against the offline sandbox and prints a table of figures
and ratios. Nothing here is a timed test: the suite never asserts on speed.
"""
