"""The hotline knowledge base: answers consultations on the spot when it is confident.

guangzhou §14.1 and huizhou §10: a consultation the knowledge base can answer is answered at once;
otherwise a ticket is registered (the dialog does that when :meth:`KnowledgeBase.answer` returns
None). guangzhou §33-36, huizhou §19-21, shaoyang §12 and §22: entries belong to a unit, carry their
legal basis and a validity period; expired entries are never served and are listed for agents.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from intake.kb.entries import Entry, EntryKind, KBAnswer, latest_expiry
from intake.kb.loader import DEFAULT_ENTRIES_DIR, DEFAULT_LEXICON, Lexicon, load_entries, load_lexicon
from intake.kb.search import Index, Match
from intake.kb.text import Segmenter, normalize
from intake.model import SHANGHAI

__all__ = [
    "DEFAULT_ENTRIES_DIR",
    "DEFAULT_LEXICON",
    "Entry",
    "EntryKind",
    "KBAnswer",
    "KnowledgeBase",
    "Lexicon",
    "Match",
    "latest_expiry",
    "normalize",
]


def _local_day(now: datetime) -> date:
    """The calendar day in China for an aware ``now`` (validity dates are local dates)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(SHANGHAI).date()


class KnowledgeBase:
    """Entries, a search index over them, and the rule for answering on the spot.

    Build it once per process (:meth:`load` reads files and segments every variant) and share it;
    :meth:`answer` is pure and thread-safe.
    """

    def __init__(self, entries: Sequence[Entry], lexicon: Lexicon, *, threshold: float | None = None) -> None:
        self._entries = tuple(entries)
        self._lexicon = lexicon
        self.threshold = lexicon.threshold if threshold is None else threshold
        self._segmenter = Segmenter(
            words=lexicon.words, synonyms=lexicon.synonyms, stopwords=lexicon.stopwords
        )
        self._index = Index(self._entries, self._segmenter)
        self._not_consultation = tuple(normalize(m) for m in lexicon.not_consultation)

    @classmethod
    def load(
        cls,
        paths: Sequence[Path | str] | Path | str | None = None,
        *,
        lexicon: Path | str | None = None,
        threshold: float | None = None,
    ) -> KnowledgeBase:
        """Load entries from files or folders (default: the shipped starter set) and the lexicon.

        To add a unit's own entries next to the starter set, pass both:
        ``KnowledgeBase.load([DEFAULT_ENTRIES_DIR, "/etc/hotline/kb"])``.

        Raises:
            ConfigError: a file is unreadable, an entry is malformed, an id repeats, or an
                ``expires_on`` exceeds its kind's period (guangzhou §35).
        """
        if isinstance(paths, str | Path):
            paths = [paths]
        return cls(load_entries(paths), load_lexicon(lexicon), threshold=threshold)

    @property
    def entries(self) -> tuple[Entry, ...]:
        """All loaded entries, expired or not, in load order."""
        return self._entries

    @property
    def segmenter(self) -> Segmenter:
        """The tokenizer used for search (for benches and tests that explain a score)."""
        return self._segmenter

    def is_consultation(self, text: str) -> bool:
        """False when the text reads as a complaint, report or help request (guangzhou §45).

        Those always become tickets, even if an entry happens to share their words.
        """
        clean = normalize(text)
        return not any(marker in clean for marker in self._not_consultation)

    def search(self, text: str, now: datetime, *, limit: int = 5) -> list[Match]:
        """Ranked candidates among entries valid at ``now`` (expired ones are never offered)."""
        day = _local_day(now)
        return [m for m in self._index.search(text, limit=limit + 10) if m.entry.is_valid_on(day)][:limit]

    def answer(self, text: str, now: datetime) -> KBAnswer | None:
        """The on-the-spot answer to a consultation, or None when a ticket should be registered.

        None when the text is not a consultation, nothing matches, the best valid entry's confidence
        is below :attr:`threshold`, or the best entry has expired (an expired best match is not
        replaced by a weaker one: the citizen gets a ticket and the unit a review to do).
        """
        if not self.is_consultation(text):
            return None
        day = _local_day(now)
        matches = self._index.search(text, limit=1)
        if not matches:
            return None
        best = matches[0]
        if best.confidence < self.threshold or not best.entry.is_valid_on(day):
            return None
        entry = best.entry
        return KBAnswer(
            entry_id=entry.id,
            answer=entry.answer,
            confidence=round(best.confidence, 3),
            unit=entry.unit,
            basis=entry.basis,
            expires_on=entry.expires_on,
            matched_question=best.question,
        )

    def expired(self, now: datetime) -> list[Entry]:
        """Entries past their ``expires_on`` at ``now``, oldest expiry first, for agents to review."""
        day = _local_day(now)
        return sorted((e for e in self._entries if e.is_expired_on(day)), key=lambda e: (e.expires_on, e.id))

    def get(self, entry_id: str) -> Entry | None:
        """The entry with this id, if loaded."""
        return next((e for e in self._entries if e.id == entry_id), None)
