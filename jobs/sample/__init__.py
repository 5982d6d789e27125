"""Seeded, deterministic generators of department exports, driven by the catalog."""
