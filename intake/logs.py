"""Logging for every process: one format, and personal data masked on every line (STYLE.md)."""

from __future__ import annotations

import logging

from intake.masking import MaskingFilter

# Libraries that log every protocol step or job at INFO: one line per SMTP command (with the
# peer's addresses) and two per RQ job. Their warnings and errors still show.
CHATTY = ("mail.log", "rq.worker", "rq.queue", "rq.job")


def setup_logging(process: str, level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=f"%(asctime)s {process} %(levelname)s %(name)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskingFilter())
    for name in CHATTY:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
