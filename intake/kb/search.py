"""Ranking entries for a citizen's question: Okapi BM25 over jieba tokens, plus a calibrated confidence.

BM25 ranks; it does not say whether the best entry really answers the question, and its scores are
not comparable across questions. So the confidence is a separate, bounded figure in [0, 1] built from
IDF-weighted overlaps: how much of the *question* the entry covers (an unmatched rare word such as
利率 in 「公积金贷款利率」 means a near-miss topic) and how much of the entry's closest *question
variant* the citizen's words cover; the figure is lowered when a second entry is almost as close
(an ambiguous question gets a ticket, not a guess). A wrong answer is worse than a ticket.

The corpus is small (hundreds of entries), so a few dozen lines of plain Python beat a sparse-matrix
library here; the formulas follow Robertson & Zaragoza (2009), "The Probabilistic Relevance Framework".
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from intake.kb.entries import Entry
from intake.kb.text import Segmenter

K1 = 1.2
B = 0.75
CANDIDATES = 5
# Words no entry knows weigh up to this share of the rarest known word, times their general rarity:
# an unknown topic word (利率) lowers the confidence, an everyday word (出来, 今年) hardly does.
UNKNOWN_WEIGHT = 1.0
# Known words keep at least this share of their IDF however common they are in general Chinese.
COMMON_FLOOR = 0.35
# A runner-up within this distance of the best confidence makes the question ambiguous.
AMBIGUITY_MARGIN = 0.12
# A word matched only through a shorter word inside it (社保卡 → 社保) counts at most this much.
PART_CREDIT = 0.7
# Matched evidence (sum of IDF weights) below this scales the confidence down: one common word such
# as 「公积金」 alone does not pick one of eight housing-fund entries.
MIN_EVIDENCE = 3.6

# The confidence is a weighted geometric mean of the question's coverage (this share) and the closest
# variant's coverage: what the citizen asked about matters more than how the variant was phrased.
QUERY_SHARE = 0.7

Unit = tuple[str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class Match:
    """An entry with its BM25 score, its confidence and the question variant closest to the text."""

    entry: Entry
    score: float
    confidence: float
    question: str


@dataclass(frozen=True, slots=True)
class _Doc:
    entry: Entry
    tf: Counter[str]
    length: int
    terms: frozenset[str]
    variants: tuple[tuple[str, tuple[Unit, ...]], ...]


class Index:
    """A BM25 index over entries; each entry's document is its question variants plus keywords."""

    def __init__(self, entries: Sequence[Entry], segmenter: Segmenter) -> None:
        self._segmenter = segmenter
        docs: list[_Doc] = []
        for entry in entries:
            variants = tuple((q, tuple(segmenter.units(q))) for q in entry.questions)
            tokens: list[str] = []
            for q in entry.questions:
                tokens.extend(segmenter.tokens(q))
            for kw in entry.keywords:
                tokens.extend(segmenter.tokens(kw))
            tf = Counter(tokens)
            docs.append(_Doc(entry, tf, len(tokens), frozenset(tf), variants))
        self._docs = docs
        n = len(docs)
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(doc.terms)
        self._idf = {t: math.log(1.0 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self._unknown = UNKNOWN_WEIGHT * math.log(1.0 + (n + 0.5) / 0.5) if n else 1.0
        self._weights: dict[str, float] = {}
        self._avgdl = (sum(d.length for d in docs) / n) if n else 1.0
        self._postings: dict[str, list[int]] = {}
        for i, doc in enumerate(docs):
            for term in doc.terms:
                self._postings.setdefault(term, []).append(i)
        # What a question variant's coverage needs and does not depend on the query, once here:
        # its words' weights, their sum, and every term it holds (no term in the query: no cover).
        self._variants = [tuple(self._variant(units) for _, units in doc.variants) for doc in docs]
        # A pure function of the text once the index is built; the same questions come back often.
        self._search_cached = functools.lru_cache(maxsize=256)(self._search)

    def __len__(self) -> int:
        return len(self._docs)

    def weight(self, term: str) -> float:
        """How much a term says about the topic: its IDF in the entries, scaled by general rarity.

        A term no entry contains gets the rarest term's IDF times its rarity, so unknown topic words
        count against a match and unknown everyday words barely do.
        """
        cached = self._weights.get(term)
        if cached is not None:
            return cached
        rarity = self._segmenter.rarity(term)
        idf = self._idf.get(term)
        if idf is None:
            value = max(0.05, self._unknown * rarity)
        else:
            value = idf * (COMMON_FLOOR + (1.0 - COMMON_FLOOR) * rarity)
        self._weights[term] = value
        return value

    def _bm25(self, doc: _Doc, query: Sequence[str]) -> float:
        score = 0.0
        norm = K1 * (1.0 - B + B * doc.length / self._avgdl)
        for term in query:
            f = doc.tf.get(term, 0)
            if f:
                score += self._idf[term] * f * (K1 + 1.0) / (f + norm)
        return score

    def _covered(self, unit: Unit, terms: frozenset[str]) -> float:
        """Weighted share of ``unit`` found in ``terms``: whole word 1, else its best inner word, capped."""
        word, parts = unit
        if word in terms:
            return 1.0
        inner = [self.weight(p) for p in parts if p != word and p in terms]
        if not inner:
            return 0.0
        return min(PART_CREDIT, max(inner) / self.weight(word))

    def _cover(self, units: Sequence[Unit], weights: Sequence[float], terms: frozenset[str]) -> float:
        """Σ weight × covered share over ``units``, in order.

        A unit with no term in ``terms`` (its parts hold its word) adds exactly 0.0, so it is
        skipped: the sum is the same float.
        """
        total = 0.0
        for unit, w in zip(units, weights, strict=True):
            if unit[0] in terms or not unit[1].isdisjoint(terms):
                total += w * self._covered(unit, terms)
        return total

    def _variant(self, units: tuple[Unit, ...]) -> tuple[tuple[float, ...], float, frozenset[str]]:
        weights = tuple(self.weight(u[0]) for u in units)
        return weights, sum(weights), frozenset(t for _, parts in units for t in parts)

    def _confidence(
        self,
        i: int,
        query: Sequence[Unit],
        query_terms: frozenset[str],
        weights: Sequence[float],
        total: float,
    ) -> tuple[float, str]:
        """Confidence that doc ``i`` answers the query; ``weights`` are its units' and ``total`` their sum."""
        doc = self._docs[i]
        if total <= 0.0:
            return 0.0, doc.entry.questions[0]
        matched = self._cover(query, weights, doc.terms)
        covered = matched / total
        best_cover, best_question = 0.0, doc.entry.questions[0]
        for (question, units), (own_weights, own, terms) in zip(doc.variants, self._variants[i], strict=True):
            if own <= 0.0 or terms.isdisjoint(query_terms):
                continue  # (no term in common: the cover is 0, which never beats the best)
            cover = self._cover(units, own_weights, query_terms) / own
            if cover > best_cover:
                best_cover, best_question = cover, question
        evidence = min(1.0, matched / MIN_EVIDENCE)
        return covered**QUERY_SHARE * best_cover ** (1.0 - QUERY_SHARE) * evidence, best_question

    def search(self, text: str, *, limit: int = CANDIDATES) -> list[Match]:
        """The best ``limit`` entries for ``text``, most confident first; empty when nothing overlaps.

        The first match's confidence already carries the ambiguity penalty.
        """
        return list(self._search_cached(text, limit))

    def _search(self, text: str, limit: int) -> tuple[Match, ...]:
        units = list({u[0]: u for u in self._segmenter.units(text)}.values())
        query = [t for word, parts in units for t in (word, *sorted(parts - {word}))]
        if not query:
            return ()
        hit: set[int] = set()
        for term in query:
            hit.update(self._postings.get(term, ()))
        if not hit:
            return ()
        scored = sorted(((self._bm25(self._docs[i], query), i) for i in hit), reverse=True)
        unique = frozenset(query)
        weights = [self.weight(u[0]) for u in units]
        total = sum(weights)
        matches: list[Match] = []
        for score, i in scored[: max(limit, CANDIDATES)]:
            confidence, question = self._confidence(i, units, unique, weights, total)
            matches.append(Match(self._docs[i].entry, score, confidence, question))
        matches.sort(key=lambda m: (m.confidence, m.score), reverse=True)
        if len(matches) > 1:
            gap = matches[0].confidence - matches[1].confidence
            if gap < AMBIGUITY_MARGIN:
                top = matches[0]
                penalised = top.confidence * (0.5 + 0.5 * gap / AMBIGUITY_MARGIN)
                matches[0] = Match(top.entry, top.score, penalised, top.question)
        return tuple(matches[:limit])
