"""Sync engine: pull, segment, plan, apply."""
