"""Word segmentation with part-of-speech tags (jieba), loaded once, lazily and quietly."""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Iterator
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

        class Tagger(jieba.posseg.POSTokenizer):  # type: ignore[misc]
            """jieba's tagger, remembering how its HMM cuts a run of characters it does not know.

            jieba's ``__cut`` (name-mangled: ``_POSTokenizer__cut``) runs a Viterbi search over
            every such run (我要, 说有, 还很): most of the time a cold message takes. It depends on
            the run alone (jieba's fixed HMM tables) and the same short runs come back in
            message after message, so it is remembered, and searched faster (_viterbi).
            """

            def _POSTokenizer__cut(self, sentence: str) -> Iterator[Any]:
                return (jieba.posseg.pair(word, flag) for word, flag in _hmm_cut(sentence))

        tokenizer = jieba.Tokenizer()
        for word in default_lexicon().jieba_words:
            tokenizer.add_word(word, freq=20000, tag="n")
        tagger = Tagger(tokenizer)
        tagger.lcut("初始化")  # builds the prefix dictionary now, not in the middle of a turn
        return tagger


@functools.lru_cache(maxsize=8192)
def _hmm_cut(run: str) -> tuple[tuple[str, str], ...]:
    """``(word, flag)`` as jieba.posseg's ``__cut`` gives them for a run of Chinese characters:
    the Viterbi path over its HMM, B(egin)/M/E(nd)/S(ingle) states each with a part of speech."""
    _prob, route = _viterbi(run)
    out: list[tuple[str, str]] = []
    begin = rest = 0
    for i, char in enumerate(run):
        position, flag = route[i]
        if position == "B":
            begin = i
        elif position == "E":
            out.append((run[begin : i + 1], flag))
            rest = i + 1
        elif position == "S":
            out.append((char, flag))
            rest = i + 1
    if rest < len(run):
        out.append((run[rest:], route[rest][1]))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _Hmm:
    """jieba.posseg's HMM tables, and who may come before and after each state."""

    states: dict[str, Any]  # character → the states that may emit it
    start: dict[Any, float]
    emit: dict[Any, dict[str, float]]
    before: dict[Any, tuple[tuple[Any, float], ...]]  # state → (previous state, log P(transition))
    trans: dict[Any, dict[Any, float]]  # state → {next state: log P(transition)}
    after: dict[Any, frozenset[Any]]  # state → the states that may follow it
    unseen: float  # log P of an emission the tables do not have (jieba's MIN_FLOAT)


@functools.cache
def _hmm() -> _Hmm:
    from jieba.posseg import char_state_tab_P, emit_P, start_P, trans_P
    from jieba.posseg.viterbi import MIN_FLOAT

    before: dict[Any, list[tuple[Any, float]]] = {}
    for y0, following in trans_P.items():
        for y, p in following.items():
            before.setdefault(y, []).append((y0, p))
    return _Hmm(
        states=char_state_tab_P,
        start=start_P,
        emit=emit_P,
        before={y: tuple(v) for y, v in before.items()},
        trans=trans_P,
        after={x: frozenset(v) for x, v in trans_P.items()},
        unseen=MIN_FLOAT,
    )


def _viterbi(obs: str) -> tuple[float, list[Any]]:
    """jieba.posseg.viterbi.viterbi over jieba's tables, the same path and probability, faster.

    jieba scores every (state, previous state) pair, giving -inf to the pairs with no transition;
    the best of the others always beats those (every probability here is finite), so only the
    previous states that can lead to a state are scored. Ties between equal probabilities go to
    the greater state, as with jieba's max over (probability, state).
    """
    hmm = _hmm()
    every = hmm.after.keys()
    column = {y: hmm.start[y] + hmm.emit[y].get(obs[0], hmm.unseen) for y in hmm.states.get(obs[0], every)}
    back: list[dict[Any, Any]] = [dict.fromkeys(column, "")]
    for char in obs[1:]:
        reachable: set[Any] = set()
        for x in column:
            reachable.update(hmm.after[x])
        states = set(hmm.states.get(char, every)) & reachable or reachable or set(every)
        scores: dict[Any, float] = {}
        came: dict[Any, Any] = {}
        for y in states:
            emitted = hmm.emit[y].get(char, hmm.unseen)
            best: tuple[float, Any] | None = None
            before = hmm.before.get(y, ())
            if len(before) <= len(column):  # walk the shorter side of (previous states → y)
                for y0, p in before:
                    previous = column.get(y0)
                    if previous is not None:
                        candidate = (previous + p + emitted, y0)
                        if best is None or candidate > best:
                            best = candidate
            else:
                for y0, previous in column.items():
                    step = hmm.trans[y0].get(y)
                    if step is not None:
                        candidate = (previous + step + emitted, y0)
                        if best is None or candidate > best:
                            best = candidate
            if best is None:  # (jieba fails the same way: a max over nothing)
                raise ValueError("no state can lead here")
            scores[y], came[y] = best
        column = scores
        back.append(came)
    prob, state = max((p, y) for y, p in column.items())
    route: list[Any] = [None] * len(obs)
    for i in range(len(obs) - 1, -1, -1):
        route[i] = state
        state = back[i][state]
    return prob, route


def tokens(text: str) -> list[Token]:
    """The words of ``text`` with their offsets; an empty list if segmentation fails."""
    return list(_tokens(text[:_MAX_CHARS]))


@functools.lru_cache(maxsize=256)
def _tokens(head: str) -> tuple[Token, ...]:
    try:
        pairs = _tagged(head)
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


def _tagged(text: str) -> list[tuple[str, str]]:
    """``(word, flag)`` as ``_tagger().lcut(text)`` gives them, one block at a time.

    jieba splits a text into blocks of Chinese characters, letters and digits (re_han_internal)
    and cuts each block on its own; so cutting block by block gives the same words, and a block
    seen before (请问, 我要投诉, 谢谢) is not cut again.
    """
    han = _han_blocks()
    out: list[tuple[str, str]] = []
    for block in han.split(text):
        if block:
            out.extend(_cut_block(block))
    return out


@functools.lru_cache(maxsize=8192)
def _cut_block(block: str) -> tuple[tuple[str, str], ...]:
    return tuple((str(pair.word), str(pair.flag)) for pair in _tagger().lcut(block))


@functools.cache
def _han_blocks() -> re.Pattern[str]:
    import jieba.posseg

    pattern: re.Pattern[str] = jieba.posseg.re_han_internal
    return pattern
