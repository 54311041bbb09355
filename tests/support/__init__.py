"""Helpers shared by the tests: data generators, sandboxes, polling."""
