"""Personal data at rest: AES-GCM for values, HMAC blind indexes for look-ups.

Everything a citizen wrote, and every address that identifies them, is stored encrypted; the
blind index lets the store find "this sender's open tickets" without ever storing the sender in
clear (RELIABILITY.md P1, shaoyang §23).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_PREFIX = "v1:"


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


class Cipher:
    """Encrypts text fields with a key derived from HOTLINE_SECRET_KEY."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the master key must be 32 bytes")
        self._aead = AESGCM(_derive(master_key, b"hotline/aes-gcm/v1"))
        self._index_key = _derive(master_key, b"hotline/blind-index/v1")
        self._token_key = _derive(master_key, b"hotline/tokens/v1")

    def encrypt(self, value: str) -> str:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, value.encode("utf-8"), None)
        return _PREFIX + base64.b64encode(nonce + ct).decode("ascii")

    def decrypt(self, token: str) -> str:
        if not token.startswith(_PREFIX):
            raise ValueError("not an encrypted value")
        raw = base64.b64decode(token[len(_PREFIX) :])
        return self._aead.decrypt(raw[:12], raw[12:], None).decode("utf-8")

    def encrypt_opt(self, value: str | None) -> str | None:
        return None if value is None else self.encrypt(value)

    def decrypt_opt(self, token: str | None) -> str | None:
        return None if token is None else self.decrypt(token)

    def encrypt_json(self, value: Any) -> str:
        return self.encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def decrypt_json(self, token: str | None) -> Any:
        return None if token is None else json.loads(self.decrypt(token))

    def blind_index(self, value: str) -> str:
        """A keyed hash for equality look-ups; useless without the key."""
        return hmac.new(self._index_key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def sign(self, message: str) -> str:
        """An HMAC for short-lived tokens (web-chat sessions, console)."""
        mac = hmac.new(self._token_key, message.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")

    def verify(self, message: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(message), signature)
