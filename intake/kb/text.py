"""Chinese text helpers shared by the knowledge base and screening: normalisation and segmentation.

Citizens write in simplified or traditional characters, with full-width letters and digits, typos and
colloquial words. Everything that compares texts goes through :func:`normalize` first, then through one
:class:`Segmenter`, so a rule written once in simplified Chinese also matches 「身份證」 or 「ＳＢ」.
This module keeps its own small normalisation on purpose (the brief forbids depending on
``intake.extract``); both use NFKC and the same traditional→simplified library.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping

import jieba

from intake.extract.text import to_simplified

_SPACES = re.compile(r"\s+")
_HAN_BLOCK = jieba.re_han_default  # how jieba splits a text into blocks it cuts one by one
_PUNCT_OR_SPACE = re.compile(r"^[\W_]+$")
# jieba's dictionary frequencies, as -log(p): ~6-9 for everyday words (出来, 工作, 今年),
# ~10-17 for specific ones (利率, 婚假, 健康证). Mapped linearly onto [0, 1] between these two.
_COMMON_LOGP = 8.0
_RARE_LOGP = 14.0
# A word jieba only found by its HMM (not in the dictionary) is often a fragment (哪办): middling.
_UNSEEN_RARITY = 0.5


@functools.cache
def _general_dictionary() -> tuple[Mapping[str, int], int]:
    """jieba's general dictionary (word and prefix → frequency, and their total), read once per
    process: about half a second and 40 MB each time. Every Segmenter starts from a copy of it
    and adds its own words to the copy."""
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer.FREQ, tokenizer.total


@functools.lru_cache(maxsize=256)
def normalize(text: str) -> str:
    """Return ``text`` as NFKC, simplified Chinese, lower case, with runs of white space collapsed.

    NFKC folds full-width forms (「ＳＢ」→「SB」, 「１２３」→「123」); OpenCC's ``tw2sp`` profile
    (intake.extract.text.to_simplified) turns traditional characters and Taiwan wording into
    mainland simplified. Remembered: a turn normalises the same text for screening and the
    knowledge base.
    """
    folded = unicodedata.normalize("NFKC", text)
    simplified = to_simplified(folded)
    return _SPACES.sub(" ", simplified).strip().lower()


class Segmenter:
    """A private jieba tokenizer with domain words, synonyms folded to one canonical form, stop words dropped.

    A private ``jieba.Tokenizer`` keeps our added words from changing segmentation elsewhere in the
    process. Synonyms map every variant to its group's first word (社会保险 → 社保), so a question
    and an entry that name the same thing differently share a token.
    """

    def __init__(
        self,
        *,
        words: Iterable[str] = (),
        synonyms: Iterable[Iterable[str]] = (),
        stopwords: Iterable[str] = (),
    ) -> None:
        self._tokenizer = jieba.Tokenizer()
        self._lock = threading.Lock()
        self._canonical: dict[str, str] = {}
        added: list[str] = [normalize(w) for w in words]
        for group in synonyms:
            forms = [normalize(w) for w in group if w.strip()]
            if not forms:
                continue
            for form in forms:
                self._canonical[form] = forms[0]
            added.extend(forms)
        self._words = tuple(w for w in dict.fromkeys(added) if w)
        self._domain = frozenset(self._words) | frozenset(self._canonical.values())
        self._stopwords = frozenset(normalize(w) for w in stopwords)
        self._ready = False
        # Pure functions of a block or a word once the dictionary is ready, remembered per segmenter.
        self._cut_block = functools.lru_cache(maxsize=8192)(self._cut_block_uncached)
        self._unit = functools.lru_cache(maxsize=16384)(self._unit_uncached)

    @property
    def canonical(self) -> Mapping[str, str]:
        """Variant → canonical form, for callers that want to show or test the folding."""
        return self._canonical

    def _ensure_ready(self) -> None:
        # jieba loads its dictionary lazily (about half a second); do it once, under a lock.
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            freq, total = _general_dictionary()
            # What Tokenizer.initialize() would read from jieba's cache file, without reading it.
            self._tokenizer.FREQ, self._tokenizer.total = dict(freq), total
            self._tokenizer.initialized = True
            for word in self._words:
                self._tokenizer.add_word(word, freq=max(2000, 200 * len(word)))
            self._ready = True

    def rarity(self, word: str) -> float:
        """How specific ``word`` is in general Chinese, in [0, 1] (0: everyday word, 1: rare or ours).

        Used to weigh words the knowledge base has never seen: an unmatched 「利率」 signals a topic
        the entry does not cover, an unmatched 「出来」 signals nothing.
        """
        self._ensure_ready()
        if word in self._domain:
            return 1.0
        freq = self._tokenizer.FREQ.get(word, 0)
        if not freq:
            return _UNSEEN_RARITY
        logp = math.log(self._tokenizer.total / freq)
        return min(1.0, max(0.0, (logp - _COMMON_LOGP) / (_RARE_LOGP - _COMMON_LOGP)))

    def _fold(self, word: str) -> str | None:
        token = word.strip()
        if not token or _PUNCT_OR_SPACE.match(token):
            return None
        token = self._canonical.get(token, token)
        return None if token in self._stopwords else token

    def units(self, text: str, *, normalized: bool = False) -> list[tuple[str, frozenset[str]]]:
        """Segment ``text`` into words (jieba's precise mode), each with the dictionary words inside it.

        Each unit is ``(word, parts)``: ``parts`` holds the word itself and the known 2- and 3-character
        words within it (what jieba's search mode adds), synonym-folded, so 社保卡 carries 社保 too.
        Synonyms fold to one canonical form; stop words and punctuation are dropped.
        """
        self._ensure_ready()
        clean = text if normalized else normalize(text)
        out: list[tuple[str, frozenset[str]]] = []
        for block in _HAN_BLOCK.split(clean):
            if not block:
                continue
            for raw in self._cut_block(block):
                unit = self._unit(raw)
                if unit is not None:
                    out.append(unit)
        return out

    def _cut_block_uncached(self, block: str) -> tuple[str, ...]:
        """``lcut`` of one block: jieba cuts each block of re_han_default on its own, so cutting
        block by block gives the words of the whole text, and a block seen before is not cut again."""
        return tuple(self._tokenizer.lcut(block))

    def _unit_uncached(self, raw: str) -> tuple[str, frozenset[str]] | None:
        """The unit of one word jieba gave, or None for a stop word or punctuation."""
        freq = self._tokenizer.FREQ
        word = raw.strip()
        unit = self._fold(word)
        if unit is None:
            return None
        parts: set[str] = set()
        for size in (2, 3):
            if len(word) > size:
                for i in range(len(word) - size + 1):
                    gram = word[i : i + size]
                    if freq.get(gram):
                        folded = self._fold(gram)
                        if folded is not None:
                            parts.add(folded)
        parts.add(unit)
        return unit, frozenset(parts)

    def tokens(self, text: str, *, normalized: bool = False) -> list[str]:
        """All terms of :meth:`units`, flattened (like jieba's search mode), for BM25 term counts."""
        out: list[str] = []
        for unit, parts in self.units(text, normalized=normalized):
            out.append(unit)
            out.extend(sorted(parts - {unit}))
        return out
