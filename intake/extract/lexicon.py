"""The keyword lists of intake/data/*.toml, loaded once and checked.

Templates and word lists change over time (huizhou §9: 受理事项要素模板实行动态管理), so they are
data an operator edits; a mistake in them stops start-up with one line naming the file.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intake.errors import ConfigError
from intake.model import Category, Field

__all__ = ["CategoryCues", "Lexicon", "default_lexicon", "load_lexicon"]

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
    for needed in ("anonymity", "withdraw", "progress", "cancel", "greeting", "thanks", "supplement"):
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
