"""Word segmentation with part-of-speech tags (jieba), loaded once, lazily and quietly."""

from __future__ import annotations

import functools
import logging
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
    """A private jieba tokenizer (the global one is left to others) with our domain words."""
    with _LOCK:
        import jieba
        import jieba.posseg

        jieba.setLogLevel(logging.WARNING)
        logging.getLogger("jieba").setLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        for word in default_lexicon().jieba_words:
            tokenizer.add_word(word, freq=20000, tag="n")
        tagger = jieba.posseg.POSTokenizer(tokenizer)
        tagger.lcut("初始化")  # builds the prefix dictionary now, not in the middle of a turn
        return tagger


def tokens(text: str) -> list[Token]:
    """The words of ``text`` with their offsets; an empty list if segmentation fails."""
    head = text[:_MAX_CHARS]
    try:
        pairs = _tagger().lcut(head)
    except Exception:  # segmentation is a help, never a reason to fail a turn
        return []
    out: list[Token] = []
    pos = 0
    for pair in pairs:
        word, flag = str(pair.word), str(pair.flag)
        found = head.find(word, pos)
        if found < 0:
            continue
        out.append(Token(word, flag, found))
        pos = found + len(word)
    return out
