"""Text understanding seen through the dialog's port (intake.dialog.Understanding)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace
from types import MappingProxyType

from intake.dialog import Intent, Understood
from intake.extract import extract, fill_fields, is_meaningless
from intake.model import Field

# Commands and buttons ("查询进度", "满意", "1", a category's name) arrive again and again, word
# for word: what they mean is remembered. Longer texts, what citizens describe, are nearly
# always new and are read every time.
SHORT_TEXT = 8
_SHORT_TEXTS_KEPT = 1024


class ExtractUnderstanding:
    """Rules plus jieba (intake.extract) answering the dialog's three questions."""

    def understand(self, text: str) -> Understood:
        if len(text) <= SHORT_TEXT:
            return _understand_short(text)
        return _understand(text)

    def fill(self, wanted: Sequence[Field], text: str) -> dict[Field, str]:
        return fill_fields(wanted, text)

    def is_meaningless(self, text: str) -> bool:
        return is_meaningless(text)


@functools.lru_cache(maxsize=_SHORT_TEXTS_KEPT)
def _understand_short(text: str) -> Understood:
    u = _understand(text)
    return replace(u, values=MappingProxyType(dict(u.values)))  # shared from now on: read-only


def _understand(text: str) -> Understood:
    """What ``text`` says, read afresh."""
    e = extract(text)
    intents = {
        intent
        for intent, on in (
            (Intent.GREETING, e.greeting_only),
            (Intent.THANKS, e.thanks),
            (Intent.PROGRESS, e.progress_query),
            (Intent.WITHDRAW, e.withdraw),
            (Intent.CANCEL, e.cancel),
            (Intent.SUPPLEMENT, e.supplement),
            (Intent.ANONYMOUS, e.wants_anonymity),
        )
        if on
    }
    return Understood(
        text=e.text,
        category=e.category,
        confident=e.confident,
        values=e.values,
        intents=frozenset(intents),
        hide=e.hide,
        invalid_ids=e.invalid_id_numbers,
        has_chinese=e.has_chinese,
    )
