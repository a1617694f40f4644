"""Tamper-evident audit: a hash chain in the database, signed checkpoints outside it."""
