"""Data files an operator edits without touching code (keyword lists for text understanding)."""
