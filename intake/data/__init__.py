"""Data files an operator edits without touching code (keyword lists for text understanding)."""

from pathlib import Path

SCREENING_RULES = Path(__file__).parent / "screening.toml"  # screening and its [repeat] table
