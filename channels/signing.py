"""Signed webhooks (CONTRACT.md "SMS", "Back-office feed"): who may speak for a citizen's phone.

The sender signs ``"<timestamp>." + raw body`` with HMAC-SHA256 under a shared secret and sends
the timestamp and the lowercase hex digest in two headers. A request is believed only when the
signature matches (compared in constant time) and the timestamp is within ``MAX_SKEW`` seconds of
our clock, so a captured request cannot be replayed later; inside the window the signature itself
names the request, and the same signed request twice is stored once (channels.sms).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from intake.errors import Unauthorized

__all__ = ["MAX_SKEW", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "Refused", "sign", "signed_headers", "verify"]

TIMESTAMP_HEADER = "X-Hotline-Timestamp"
SIGNATURE_HEADER = "X-Hotline-Signature"
MAX_SKEW = 300  # seconds either way


class Refused(Unauthorized):
    """A request whose signature does not hold; ``reason`` is for logs and metrics only."""

    def __init__(self, reason: str) -> None:
        super().__init__("签名无效或已过期。A valid, current X-Hotline-Signature is required.")
        self.reason = reason


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature of ``body`` sent at ``timestamp`` (Unix seconds)."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The two headers that make ``body`` a signed request (for senders and tests)."""
    ts = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(secret, ts, body)}


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None) -> str:
    """The request's signature if it holds; else :class:`Refused` (HTTP 401). An empty secret
    believes nothing."""
    ts, given = headers.get(TIMESTAMP_HEADER, ""), headers.get(SIGNATURE_HEADER, "")
    if not ts or not given:
        raise Refused("missing")
    if not (ts.isascii() and ts.isdigit() and len(ts) <= 12):
        raise Refused("bad_timestamp")
    if abs((time.time() if now is None else now) - int(ts)) > MAX_SKEW:
        raise Refused("stale")
    given = given.strip().lower()
    if not secret or not hmac.compare_digest(sign(secret, ts, body).encode(), given.encode()):
        raise Refused("bad_signature")
    return given
