"""Which of the regulations' categories a message belongs to (guangzhou §45, guangxi §25)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from intake.extract.lexicon import CategoryCues, Lexicon, WordMatcher, by_identity, matcher
from intake.model import Category

__all__ = ["CategoryGuess", "classify", "found_words"]


@dataclass(frozen=True, slots=True)
class CategoryGuess:
    category: Category | None
    confidence: float  # 0..1
    candidates: tuple[Category, ...]  # best first; what to offer as buttons when unsure
    explicit: bool  # the citizen named the category ("我要投诉")


_ORDER = {c: i for i, c in enumerate(Category)}


def _negated(text: str, start: int, lex: Lexicon) -> bool:
    return text[max(0, start - 4) : start].endswith(lex.negations)


def found_words(text: str, words: tuple[str, ...], lex: Lexicon) -> list[str]:
    """The words (longest first, no overlaps) present in ``text`` and not right after a negation."""
    present = matcher(words)
    if not present.occurs_in(text):
        return []
    taken = [False] * len(text)
    hits: list[str] = []
    for word in present.candidates(text):  # (a word whose first character is absent is not there)
        start = text.find(word)
        while start >= 0:
            end = start + len(word)
            if not any(taken[start:end]) and not _negated(text, start, lex):
                for k in range(start, end):
                    taken[k] = True
                if word not in hits:
                    hits.append(word)
            start = text.find(word, end)
    return hits


@by_identity
def _any_cue(cues: Mapping[Category, CategoryCues]) -> WordMatcher:
    """Every cue word of every category, to tell at once when a text has none."""
    return matcher(tuple(w for c in cues.values() for words in (c.explicit, c.strong, c.weak) for w in words))


@by_identity
def _any_cue_of(cues: CategoryCues) -> WordMatcher:
    return matcher((*cues.explicit, *cues.strong, *cues.weak))


def classify(text: str, lex: Lexicon) -> CategoryGuess:
    """Score every category by the cue words found; confident when one clearly leads.

    confidence = (top share of the two best scores) × min(1, top / (1.5 × strong weight)), so one
    explicit word or one uncontested typical word is enough, a lone hint or a close race is not.
    """
    w_explicit, w_strong, w_weak = lex.weights
    scores: dict[Category, float] = {}
    explicit: set[Category] = set()
    if not _any_cue(lex.cues).occurs_in(text):  # most chat messages name no category at all
        return CategoryGuess(None, 0.0, (), False)
    for category, cues in lex.cues.items():
        if not _any_cue_of(cues).occurs_in(text):
            continue  # no word of this category: its score is 0
        score = 0.0
        if found_words(text, cues.explicit, lex):
            score += w_explicit
            explicit.add(category)
        score += w_strong * len(found_words(text, cues.strong, lex))
        score += w_weak * len(found_words(text, cues.weak, lex))
        if score > 0:
            scores[category] = score
    if not scores:
        return CategoryGuess(None, 0.0, (), False)
    ranked = sorted(scores, key=lambda c: (-scores[c], _ORDER[c]))
    top = scores[ranked[0]]
    second = scores[ranked[1]] if len(ranked) > 1 else 0.0
    confidence = top / (top + second) * min(1.0, top / (1.5 * w_strong))
    best = ranked[0] if top > second else None
    return CategoryGuess(best, round(confidence, 3), tuple(ranked), ranked[0] in explicit)
