"""Alembic migrations of the store (`env.py` runs them; `versions/` holds them)."""
