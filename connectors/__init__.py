"""Connectors: one module per external system, behind one small Protocol."""
