"""Reading knowledge-base files: entries (one or many TOML files, or folders of them) and the lexicon.

Every problem is a :class:`ConfigError` naming the file and the entry, so start-up stops with one line
an operator can act on. The loader enforces guangzhou §35: an ``expires_on`` beyond the period the
entry's kind allows is refused, not silently shortened.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from intake.errors import ConfigError
from intake.kb.entries import MAX_ANSWER_CHARS, Entry, EntryKind, latest_expiry

DATA_DIR = Path(__file__).with_name("data")
DEFAULT_ENTRIES_DIR = DATA_DIR / "entries"
DEFAULT_LEXICON = DATA_DIR / "lexicon.toml"


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Search vocabulary: segmentation words, synonym groups, stop words, non-consultation markers."""

    threshold: float
    words: tuple[str, ...]
    synonyms: tuple[tuple[str, ...], ...]
    stopwords: tuple[str, ...]
    not_consultation: tuple[str, ...]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc


def _str_list(value: object, where: str, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: {name} must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _required_str(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key} is required (a non-empty string)")
    return value.strip()


def _required_date(raw: dict[str, Any], key: str, where: str) -> date:
    value = raw.get(key)
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    raise ConfigError(f"{where}: {key} is required (a TOML date such as 2026-10-01)")


def parse_entry(raw: dict[str, Any], source: str) -> Entry:
    """Build one :class:`Entry` from its TOML table, checking every rule an operator could break."""
    ident = raw.get("id")
    where = f"{source}: entry {ident!r}"
    if not isinstance(ident, str) or not ident.strip():
        raise ConfigError(f"{source}: an entry has no id")
    kind_raw = raw.get("kind")
    try:
        kind = EntryKind(str(kind_raw))
    except ValueError:
        allowed = ", ".join(k.value for k in EntryKind)
        raise ConfigError(f"{where}: kind {kind_raw!r} is not one of {allowed}") from None
    questions = _str_list(raw.get("questions"), where, "questions")
    if not questions:
        raise ConfigError(f"{where}: at least one question is required")
    answer = _required_str(raw, "answer", where)
    if len(answer) > MAX_ANSWER_CHARS:
        raise ConfigError(f"{where}: answer has {len(answer)} characters, at most {MAX_ANSWER_CHARS}")
    reviewed_on = _required_date(raw, "reviewed_on", where)
    expires_on = _required_date(raw, "expires_on", where)
    if expires_on < reviewed_on:
        raise ConfigError(f"{where}: expires_on {expires_on} is before reviewed_on {reviewed_on}")
    limit = latest_expiry(kind, reviewed_on)
    if expires_on > limit:
        raise ConfigError(
            f"{where}: expires_on {expires_on} is beyond the {kind.max_months}-month limit for a "
            f"{kind.value} entry reviewed on {reviewed_on} (latest {limit}; guangzhou §35)"
        )
    keywords = _str_list(raw.get("keywords", []), where, "keywords")
    return Entry(
        id=ident.strip(),
        kind=kind,
        questions=questions,
        answer=answer,
        unit=_required_str(raw, "unit", where),
        basis=_required_str(raw, "basis", where),
        reviewed_on=reviewed_on,
        expires_on=expires_on,
        keywords=keywords,
        source=source,
    )


def entry_files(paths: Iterable[Path | str]) -> list[Path]:
    """Expand folders to their ``*.toml`` files (sorted, so the load order is stable)."""
    files: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            files.extend(sorted(p for p in path.glob("*.toml") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise ConfigError(f"{path}: no such knowledge-base file or folder")
    return files


def load_entries(paths: Sequence[Path | str] | None = None) -> list[Entry]:
    """Read every entry from ``paths`` (files or folders; default: the shipped starter set).

    Ids must be unique across all files: an extra folder may add entries, not silently replace one.
    """
    entries: list[Entry] = []
    seen: dict[str, str] = {}
    for path in entry_files(paths if paths is not None else [DEFAULT_ENTRIES_DIR]):
        data = _read_toml(path)
        tables = data.get("entry", [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            raise ConfigError(f"{path}: entries must be [[entry]] tables")
        for table in tables:
            entry = parse_entry(table, str(path))
            if entry.id in seen:
                raise ConfigError(f"{path}: entry id {entry.id!r} already defined in {seen[entry.id]}")
            seen[entry.id] = str(path)
            entries.append(entry)
    return entries


def load_lexicon(path: Path | str | None = None) -> Lexicon:
    """Read the search vocabulary (default: the shipped ``lexicon.toml``)."""
    source = Path(path) if path is not None else DEFAULT_LEXICON
    data = _read_toml(source)
    where = str(source)
    search = data.get("search", {})
    threshold = search.get("threshold") if isinstance(search, dict) else None
    if not isinstance(threshold, int | float) or not 0.0 < float(threshold) <= 1.0:
        raise ConfigError(f"{where}: [search] threshold must be a number in (0, 1]")
    groups_raw = data.get("synonyms", [])
    if not isinstance(groups_raw, list):
        raise ConfigError(f"{where}: synonyms must be a list of lists")
    groups = tuple(_str_list(group, where, "each synonym group") for group in groups_raw)
    return Lexicon(
        threshold=float(threshold),
        words=_str_list(data.get("words", []), where, "words"),
        synonyms=groups,
        stopwords=_str_list(data.get("stopwords", []), where, "stopwords"),
        not_consultation=_str_list(search.get("not_consultation", []), where, "not_consultation"),
    )
