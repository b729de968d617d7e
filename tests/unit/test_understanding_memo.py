"""Short texts (commands, buttons) are understood once and remembered (intake/understanding.py);
what is remembered is what a fresh reading gives, and cannot be changed by a caller."""

from __future__ import annotations

import pytest

from intake.textmodel import default_model
from intake.understanding import SHORT_TEXT, ExtractUnderstanding, _understand
from tests.samples.conversations import CONVERSATIONS, Say

SHORT_SAID = sorted(
    {t.text for c in CONVERSATIONS for t in c.turns if isinstance(t, Say) and len(t.text) <= SHORT_TEXT}
)


def test_the_samples_have_short_texts_to_check() -> None:
    assert len(SHORT_SAID) >= 20
    assert {"查询进度", "撤回", "1"} <= set(SHORT_SAID)


@pytest.mark.parametrize("text", SHORT_SAID)
def test_a_remembered_short_text_reads_as_a_fresh_one(text: str) -> None:
    u = ExtractUnderstanding()
    first, again, fresh = u.understand(text), u.understand(text), _understand(text, default_model())
    assert again is first  # remembered
    assert first.text == fresh.text and first.category == fresh.category
    assert first.intents == fresh.intents and first.hide == fresh.hide
    assert dict(first.values) == dict(fresh.values)
    with pytest.raises(TypeError):
        first.values[next(iter(first.values), None)] = "changed"  # type: ignore[index]


def test_what_citizens_describe_is_read_every_time() -> None:
    u = ExtractUnderstanding()
    text = "小区楼下烧烤店每晚油烟很大，希望尽快处理"
    assert len(text) > SHORT_TEXT
    assert u.understand(text) is not u.understand(text)
    assert u.understand(text) == _understand(text, default_model())
