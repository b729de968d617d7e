"""Logging for every process: one format, and personal data masked on every line (STYLE.md)."""

from __future__ import annotations

import logging

from intake.masking import MaskingFilter


def setup_logging(process: str, level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=f"%(asctime)s {process} %(levelname)s %(name)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskingFilter())
