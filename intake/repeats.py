"""Whether a new request restates a handled one (guangzhou §24, shaoyang §10.4: the same matter
with no new facts is not a new ticket): two texts compared by their matter words and their place.
The synonyms, stop words and place words are data, in intake/data/screening.toml [repeat]."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from intake.data import SCREENING_RULES
from intake.kb.text import Segmenter, normalize

DEFAULT_REPEAT_THRESHOLD = 0.35


class Similarity:
    """Similarity of two requests: the matter compared by words, the address compared apart.

    Two people describing the same pothole share few exact words but the same matter words once
    synonyms fold (坑/塌陷, 修补/补) and the same place; a broken street lamp at the same crossing
    shares only the place. So the matter decides, and the place only scales it: disjoint addresses
    halve the score, the same address keeps it.
    """

    def __init__(
        self,
        *,
        synonyms: Iterable[Iterable[str]] = (),
        stopwords: Iterable[str] = (),
        place_suffixes: Iterable[str] = (),
        place_words: Iterable[str] = (),
    ) -> None:
        self._suffixes = tuple(sorted((normalize(s) for s in place_suffixes), key=len, reverse=True))
        self._place_words = frozenset(normalize(w) for w in place_words)
        self._segmenter = Segmenter(synonyms=synonyms, stopwords=stopwords, words=self._place_words)

    @classmethod
    def from_data(cls, repeat: dict[str, Any]) -> Similarity:
        return cls(
            synonyms=[list(g) for g in repeat.get("synonyms", [])],
            stopwords=repeat.get("stopwords", []),
            place_suffixes=repeat.get("place_suffixes", []),
            place_words=repeat.get("place_words", []),
        )

    def split(self, text: str) -> tuple[set[str], set[str]]:
        """(place terms, matter terms) of a text."""
        places: set[str] = set()
        matter: set[str] = set()
        words = [word for word, _parts in self._segmenter.units(text)]
        for i, word in enumerate(words):
            nxt = words[i + 1] if i + 1 < len(words) else ""
            is_place = (
                word in self._place_words
                or word in self._suffixes
                or nxt in self._suffixes
                or (len(word) > 1 and word.endswith(self._suffixes))
            )
            (places if is_place else matter).add(word)
        return places, matter

    def _weight(self, term: str) -> float:
        # Everyday words (有个, 到, 危险) count a fifth of a specific one (坑, 烧烤, 路灯).
        return 0.2 + 0.8 * self._segmenter.rarity(term)

    def similar(self, a: str, b: str) -> float:
        """Weighted cosine of the matter words, scaled by how far the places agree (when both name one).

        Disjoint places keep only 30 % of the matter score (the same complaint about two different
        street lamps is two matters); a text without a place keeps 80 %.
        """
        pa, ma = self.split(a)
        pb, mb = self.split(b)
        if not ma or not mb:
            return 0.0
        wa = sum(self._weight(t) for t in ma)
        wb = sum(self._weight(t) for t in mb)
        matter = sum(self._weight(t) for t in ma & mb) / math.sqrt(wa * wb)
        if pa and pb:
            place = 2 * len(pa & pb) / (len(pa) + len(pb))
            return matter * (0.3 + 0.7 * place)
        return matter * 0.8


@lru_cache(maxsize=1)
def _default_similarity() -> Similarity:
    with SCREENING_RULES.open("rb") as fh:
        return Similarity.from_data(tomllib.load(fh).get("repeat", {}))


def similar(a: str, b: str) -> float:
    """Similarity in [0, 1] of two request texts, with the shipped synonyms (pure; for SQL-fetched texts)."""
    return _default_similarity().similar(a, b)


def is_repeat(new_text: str, earlier_text: str, threshold: float = DEFAULT_REPEAT_THRESHOLD) -> bool:
    """True when ``new_text`` is the same matter as ``earlier_text`` (guangzhou §24; near-duplicates)."""
    return similar(new_text, earlier_text) >= threshold
