"""The keyword lists of intake/data/*.toml, loaded once and checked.

Templates and word lists change over time (huizhou §9: 受理事项要素模板实行动态管理), so they are
data an operator edits; a mistake in them stops start-up with one line naming the file.
"""

from __future__ import annotations

import functools
import itertools
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from intake.errors import ConfigError
from intake.model import Category, Field

__all__ = [
    "CategoryCues",
    "Lexicon",
    "WordMatcher",
    "by_identity",
    "default_lexicon",
    "load_lexicon",
    "matcher",
]

_CATEGORY_KEYS: dict[str, Category] = {
    "complaint": Category.COMPLAINT,
    "report": Category.REPORT,
    "help": Category.HELP,
    "consultation": Category.CONSULTATION,
    "suggestion": Category.SUGGESTION,
    "praise": Category.PRAISE,
}


@dataclass(frozen=True, slots=True)
class CategoryCues:
    explicit: tuple[str, ...]
    strong: tuple[str, ...]
    weak: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Every word list text understanding uses (see the comments in the TOML files)."""

    cues: Mapping[Category, CategoryCues]
    weights: tuple[float, float, float]  # explicit, strong, weak
    confident_at: float
    negations: tuple[str, ...]
    intents: Mapping[str, tuple[str, ...]]
    hide_items: Mapping[str, tuple[str, ...]]
    labels: Mapping[Field, tuple[str, ...]]
    demand_starts: tuple[str, ...]
    not_after_qing: tuple[str, ...]
    implied_demands: tuple[tuple[str, tuple[str, ...]], ...]  # (demand, problem words), in file order
    address_suffixes: tuple[str, ...]
    address_units: tuple[str, ...]
    locators: tuple[str, ...]
    home_markers: tuple[str, ...]
    weak_suffixes: frozenset[str]
    not_places: frozenset[str]
    subject_suffixes: tuple[str, ...]
    subject_words: frozenset[str]
    roles: tuple[str, ...]
    name_markers: tuple[str, ...]
    family_markers: tuple[str, ...]
    titles: tuple[str, ...]
    name_stops: tuple[str, ...]
    surnames: frozenset[str]
    compound_surnames: frozenset[str]
    jieba_words: tuple[str, ...]


def _words(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of non-empty strings")
    # longest first, so "我要投诉" is tried before "投诉"
    return tuple(sorted(dict.fromkeys(value), key=len, reverse=True))


def _implied(demand: Mapping[str, Any], where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    tables = demand.get("implied", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{where}: 'implied' must be [[demand.implied]] tables")
    out = []
    for t in tables:
        what = t.get("demand")
        if not isinstance(what, str) or not what:
            raise ConfigError(f"{where}: each [[demand.implied]] needs a 'demand'")
        out.append((what, _words(t, "words", f"{where} [[demand.implied]]")))
    return tuple(out)


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: missing table [{key}]")
    return value


def _parse(categories: Mapping[str, Any], lexicon: Mapping[str, Any], where: str) -> Lexicon:
    scoring = _table(categories, "scoring", where)
    try:
        weights = (float(scoring["explicit"]), float(scoring["strong"]), float(scoring["weak"]))
        confident_at = float(scoring["confident_at"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: [scoring] needs numbers explicit, strong, weak, confident_at") from exc
    cat_table = _table(categories, "category", where)
    unknown = set(cat_table) - set(_CATEGORY_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown category {sorted(unknown)}; use {sorted(_CATEGORY_KEYS)}")
    cues = {
        _CATEGORY_KEYS[k]: CategoryCues(
            _words(v, "explicit", f"{where} [category.{k}]"),
            _words(v, "strong", f"{where} [category.{k}]"),
            _words(v, "weak", f"{where} [category.{k}]"),
        )
        for k, v in cat_table.items()
    }
    intents_t = _table(lexicon, "intents", where)
    intents = {k: _words(intents_t, k, f"{where} [intents]") for k in intents_t}
    needed_intents = (
        "anonymity",
        "withdraw",
        "progress",
        "cancel",
        "greeting",
        "thanks",
        "supplement",
        "person",
    )
    for needed in needed_intents:
        if needed not in intents:
            raise ConfigError(f"{where}: [intents] lacks '{needed}'")
    hide_t = _table(lexicon, "hide_items", where)
    hide_items = {k: _words(hide_t, k, f"{where} [hide_items]") for k in hide_t}
    labels_t = _table(lexicon, "labels", where)
    try:
        labels = {Field(k): _words(labels_t, k, f"{where} [labels]") for k in labels_t}
    except ValueError as exc:
        raise ConfigError(f"{where}: [labels] keys must be field names ({[f.value for f in Field]})") from exc
    demand = _table(lexicon, "demand", where)
    address = _table(lexicon, "address", where)
    subject = _table(lexicon, "subject", where)
    names = _table(lexicon, "names", where)
    surnames = names.get("surnames", "")
    if not isinstance(surnames, str) or not surnames.strip():
        raise ConfigError(f"{where}: [names] surnames must be a string of characters")
    return Lexicon(
        cues=cues,
        weights=weights,
        confident_at=confident_at,
        negations=_words(scoring, "negations", f"{where} [scoring]"),
        intents=intents,
        hide_items=hide_items,
        labels=labels,
        demand_starts=_words(demand, "starts", f"{where} [demand]"),
        not_after_qing=_words(demand, "not_after_qing", f"{where} [demand]"),
        implied_demands=_implied(demand, f"{where} [demand]"),
        address_suffixes=_words(address, "suffixes", f"{where} [address]"),
        address_units=_words(address, "units", f"{where} [address]"),
        locators=_words(address, "locators", f"{where} [address]"),
        home_markers=_words(address, "home_markers", f"{where} [address]"),
        weak_suffixes=frozenset(_words(address, "weak_suffixes", f"{where} [address]")),
        not_places=frozenset(_words(address, "not_places", f"{where} [address]")),
        subject_suffixes=_words(subject, "suffixes", f"{where} [subject]"),
        subject_words=frozenset(_words(subject, "words", f"{where} [subject]")),
        roles=_words(subject, "roles", f"{where} [subject]"),
        name_markers=_words(names, "markers", f"{where} [names]"),
        family_markers=_words(names, "family_markers", f"{where} [names]"),
        titles=_words(names, "titles", f"{where} [names]"),
        name_stops=_words(names, "stops", f"{where} [names]"),
        surnames=frozenset(c for c in surnames if not c.isspace()),
        compound_surnames=frozenset(_words(names, "compound_surnames", f"{where} [names]")),
        jieba_words=_words(_table(lexicon, "jieba", where), "words", f"{where} [jieba]"),
    )


def _read(path: Path) -> Mapping[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read keyword file: {exc}") from exc


def load_lexicon(categories: Path, lexicon: Path) -> Lexicon:
    """Load and check an operator's own pair of keyword files.

    Raises:
        ConfigError: a file is missing, is not TOML, or lacks a list.
    """
    return _parse(_read(categories), _read(lexicon), f"{categories.name}/{lexicon.name}")


@functools.cache
def default_lexicon() -> Lexicon:
    """The lists shipped in intake/data/, read once per process."""
    data = Path(__file__).resolve().parent.parent / "data"
    return _parse(_read(data / "categories.toml"), _read(data / "lexicon.toml"), "intake/data")


@dataclass(frozen=True, slots=True)
class WordMatcher:
    """One word list made fast to test against: a regex for "does any word occur", a set, the lengths.

    Built once per list (see :func:`matcher`) so understanding a message never loops in Python over
    a whole list nor compiles a pattern.
    """

    words: tuple[str, ...]
    members: frozenset[str]
    lengths: tuple[int, ...]  # the distinct word lengths, longest first
    longest_first: bool  # the list is sorted longest first, as every list of a Lexicon is
    _any: re.Pattern[str] | None
    _by_first: Mapping[str, tuple[int, ...]]  # first character → positions of the words it starts
    _firsts: frozenset[str]  # the keys of _by_first
    _empty: tuple[int, ...]  # positions of "" (in every text)

    @classmethod
    def build(cls, words: tuple[str, ...]) -> WordMatcher:
        nonempty = [w for w in words if w]
        any_word = re.compile("|".join(map(re.escape, nonempty))) if nonempty else None
        by_first: dict[str, list[int]] = {}
        for i, w in enumerate(words):
            if w:
                by_first.setdefault(w[0], []).append(i)
        return cls(
            words=words,
            members=frozenset(words),
            lengths=tuple(sorted({len(w) for w in nonempty}, reverse=True)),
            longest_first=all(len(a) >= len(b) for a, b in itertools.pairwise(words)),
            _any=any_word,
            _by_first={c: tuple(ii) for c, ii in by_first.items()},
            _firsts=frozenset(by_first),
            _empty=tuple(i for i, w in enumerate(words) if not w),
        )

    def candidates(self, text: str) -> list[str]:
        """The words, in list order, whose first character occurs in ``text``.

        Every word present is among them, and so is every word that could appear once others
        are cut out of the text (cutting adds no character).
        """
        by_first = self._by_first
        found = [i for c in self._firsts.intersection(text) for i in by_first[c]]
        found.extend(self._empty)
        found.sort()
        return [self.words[i] for i in found]

    def occurs_in(self, text: str) -> bool:
        """True when at least one word of the list is a substring of ``text``."""
        if "" in self.members:
            return True
        return self._any is not None and self._any.search(text) is not None

    def suffix_of(self, word: str) -> str | None:
        """The first word of the list (so the longest, the list being longest first) ending ``word``."""
        if not self.longest_first:
            return next((s for s in self.words if word.endswith(s)), None)
        size = len(word)
        for n in self.lengths:
            if n <= size and word[size - n :] in self.members:
                return word[size - n :]
        return "" if "" in self.members else None


K = TypeVar("K")
V = TypeVar("V")


def by_identity(build: Callable[[K], V]) -> Callable[[K], V]:
    """Remember ``build(obj)`` per object, by identity: for what is derived from a lexicon or its lists.

    Cheaper than an lru_cache for a tuple of words (which hashes every word on every call). Each
    entry keeps its object alive, so an id is never reused for another object while remembered.
    """
    remembered: dict[int, tuple[K, V]] = {}

    @functools.wraps(build)
    def lookup(obj: K) -> V:
        hit = remembered.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        value = build(obj)
        if len(remembered) >= _MAX_REMEMBERED:  # lexicons are few: this only bounds a misuse
            remembered.clear()
        remembered[id(obj)] = (obj, value)
        return value

    return lookup


_MAX_REMEMBERED = 4096


@by_identity
def matcher(words: tuple[str, ...]) -> WordMatcher:
    """The :class:`WordMatcher` of a word tuple, built on its first use."""
    return WordMatcher.build(words)
