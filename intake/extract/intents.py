"""What a message asks the dialog to do besides describing a matter."""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake.extract.category import found_words
from intake.extract.lexicon import Lexicon
from intake.extract.text import compact
from intake.model import TICKET_NUMBER_IN_TEXT, Field

__all__ = ["Intents", "detect_intents"]

SHORT = 20  # letters and digits: a control message ("撤回", "查询进度") is short
_PARTICLES = re.compile(r"[啊呀吧呢哦嘛哈噢喔了的么吗请问一下]")
_HIDE_FIELDS = {
    "name": Field.NAME,
    "phone": Field.PHONE,
    "id_number": Field.ID_NUMBER,
    "home_address": Field.HOME_ADDRESS,
}


@dataclass(frozen=True, slots=True)
class Intents:
    wants_anonymity: bool = False
    hide: frozenset[Field] = frozenset()  # the items named to hide, if any (guangzhou §9)
    withdraw: bool = False
    progress_query: bool = False
    cancel: bool = False
    greeting_only: bool = False
    thanks: bool = False
    supplement: bool = False
    person: bool = False  # "转人工", "人工客服": a person asked for (issue 19)


def _hidden_items(clause: str, lex: Lexicon) -> frozenset[Field]:
    if found_words(clause, lex.hide_items.get("all", ()), lex):
        return frozenset(_HIDE_FIELDS.values())
    words = [(w, key) for key, ws in lex.hide_items.items() if key in _HIDE_FIELDS for w in ws]
    words.sort(key=lambda p: len(p[0]), reverse=True)
    taken = [False] * len(clause)
    items: set[Field] = set()
    for word, key in words:
        start = clause.find(word)
        while start >= 0:
            end = start + len(word)
            if not any(taken[start:end]):
                taken[start:end] = [True] * len(word)
                items.add(_HIDE_FIELDS[key])
            start = clause.find(word, end)
    return frozenset(items)


def _only(text: str, words: tuple[str, ...]) -> bool:
    """True when ``text`` is made of these words (and particles) and nothing else."""
    rest = text.lower()
    for word in words:
        rest = rest.replace(word.lower(), " ")
    return not compact(_PARTICLES.sub("", rest)) and compact(text) != ""


_ALONE_PERSON = frozenset({"人工", "客服", "人工人工"})  # the word alone; "人工费" is a matter
_QUERY = re.compile(r"查|进度|状态|怎么样|结果|到哪")


def _asks_by_number(text: str) -> bool:
    """ "查询 20261207-000001", "20261207-000001 怎么样了", or the number alone: progress asked by
    a ticket's number (CONTRACT.md), not a new request."""
    named = TICKET_NUMBER_IN_TEXT.search(text)
    if named is None:
        return False
    rest = compact(text[: named.start()] + text[named.end() :])
    return len(rest) <= SHORT and (not rest or _QUERY.search(rest) is not None)


def detect_intents(text: str, lex: Lexicon) -> Intents:
    size = len(compact(text))
    short = size <= SHORT
    anonymity = found_words(text, lex.intents["anonymity"], lex)
    hide: frozenset[Field] = frozenset()
    if anonymity:
        for clause in re.split(r"[。！？!?；;\n]", text):
            if found_words(clause, lex.intents["anonymity"], lex):
                hide |= _hidden_items(clause, lex)
    withdraw_words = found_words(text, lex.intents["withdraw"], lex)
    short_only = set(lex.intents.get("withdraw_short_only", ()))
    withdraw = any(w not in short_only or short for w in withdraw_words)
    progress_words = found_words(text, lex.intents["progress"], lex)
    progress_short = set(lex.intents.get("progress_short_only", ()))
    progress = any(w not in progress_short or short for w in progress_words) or _asks_by_number(text)
    cancel = short and bool(found_words(text, lex.intents["cancel"], lex))
    greeting = _only(text, lex.intents["greeting"])
    thanks = short and bool(found_words(text, lex.intents["thanks"], lex))
    person = short and (bool(found_words(text, lex.intents["person"], lex)) or compact(text) in _ALONE_PERSON)
    head = text.lstrip()
    supplement = any(head.startswith(w) or f"，{w}" in text for w in lex.intents["supplement"])
    return Intents(
        wants_anonymity=bool(anonymity),
        hide=hide,
        withdraw=withdraw,
        progress_query=progress,
        person=person,
        cancel=cancel,
        greeting_only=greeting,
        thanks=thanks,
        supplement=supplement,
    )
