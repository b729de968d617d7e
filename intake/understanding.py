"""Text understanding seen through the dialog's port (intake.dialog.Understanding)."""

from __future__ import annotations

from collections.abc import Sequence

from intake.dialog import Intent, Understood
from intake.extract import extract, fill_fields, is_meaningless
from intake.model import Field


class ExtractUnderstanding:
    """Rules plus jieba (intake.extract) answering the dialog's three questions."""

    def understand(self, text: str) -> Understood:
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

    def fill(self, wanted: Sequence[Field], text: str) -> dict[Field, str]:
        return fill_fields(wanted, text)

    def is_meaningless(self, text: str) -> bool:
        return is_meaningless(text)
