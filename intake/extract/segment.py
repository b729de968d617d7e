"""Word segmentation with part-of-speech tags (rjieba: jieba's dictionary and HMM, in Rust)."""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

from intake.extract.lexicon import default_lexicon

__all__ = ["Token", "tokens"]

_LOCK = threading.Lock()
_MAX_CHARS = 4000  # beyond this, only the head is analysed (the dialog caps messages at 5 000)


@dataclass(frozen=True, slots=True)
class Token:
    word: str
    flag: str  # jieba's part of speech: n noun, ns place, nr person, v verb, m number, x other …
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.word)


@functools.cache
def _tagger() -> Any:
    """A private rjieba tagger (jieba's general dictionary, built in) with our domain words.

    rjieba binds jieba-rs, a port of jieba's segmenter and tagger: the same dictionary and
    method, about a hundred times faster than jieba's Python (whose HMM search over every run of
    unknown characters was most of a message's cost).
    """
    with _LOCK:
        import rjieba

        tagger = rjieba.Jieba()
        for word in default_lexicon().jieba_words:
            tagger.add_word(word, 20000, "n")
        return tagger


def tokens(text: str) -> list[Token]:
    """The words of ``text`` with their offsets; an empty list if segmentation fails."""
    return list(_tokens(text[:_MAX_CHARS]))


@functools.lru_cache(maxsize=256)  # understanding, screening and the text model read one message
def _tokens(head: str) -> tuple[Token, ...]:
    try:
        pairs = _tagger().tag(head, True)
    except Exception:  # segmentation is a help, never a reason to fail a turn
        return ()
    out: list[Token] = []
    pos = 0
    for word, flag in pairs:
        found = head.find(word, pos)
        if found < 0:
            continue
        out.append(Token(word, flag, found))
        pos = found + len(word)
    return tuple(out)
