from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from intake.crypto import Cipher


def test_values_round_trip_and_never_appear_in_clear() -> None:
    c = Cipher(b"a" * 32)
    token = c.encrypt("张三 13800138000")
    assert "13800138000" not in token and "张三" not in token
    assert c.decrypt(token) == "张三 13800138000"
    assert c.encrypt("x") != c.encrypt("x")  # random nonce: equal values do not look equal


def test_another_key_cannot_read_nor_forge() -> None:
    token = Cipher(b"a" * 32).encrypt("13800138000")
    with pytest.raises(InvalidTag):
        Cipher(b"b" * 32).decrypt(token)


def test_blind_index_is_stable_and_keyed() -> None:
    a, b = Cipher(b"a" * 32), Cipher(b"b" * 32)
    assert a.blind_index("sms:+8613800138000") == a.blind_index("sms:+8613800138000")
    assert a.blind_index("sms:+8613800138000") != b.blind_index("sms:+8613800138000")


def test_signatures_verify_in_constant_time_and_reject_tampering() -> None:
    c = Cipher(b"a" * 32)
    sig = c.sign("session:abc:1700000000")
    assert c.verify("session:abc:1700000000", sig)
    assert not c.verify("session:abd:1700000000", sig)
    assert not c.verify("session:abc:1700000000", sig[:-1] + ("A" if sig[-1] != "A" else "B"))
