"""Routing a ticket to its handling units by rules that are data (worker/data/routing.toml)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from intake.errors import ConfigError
from intake.model import Field

DEFAULT_RULES = Path(__file__).resolve().parent / "data" / "routing.toml"


@dataclass(frozen=True, slots=True)
class Route:
    lead: str | None  # None: the manual queue agents see
    helpers: tuple[str, ...]
    matched: tuple[str, ...]  # keywords that decided it, for the agent


@dataclass(frozen=True, slots=True)
class Router:
    rules: tuple[tuple[str, tuple[str, ...]], ...]
    manual_queue: str

    @classmethod
    def load(cls, path: Path = DEFAULT_RULES) -> Router:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            rules = tuple((str(r["unit"]), tuple(str(k) for k in r["keywords"])) for r in data["rule"])
            manual = str(data["manual_queue"])
        except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: routing rules: {exc}") from None
        if not rules:
            raise ConfigError(f"{path}: rule: at least one rule is needed")
        return cls(rules, manual)

    def route(self, fields: Mapping[Field, str]) -> Route:
        text = " ".join(
            fields.get(f, "") for f in (Field.SUBJECT, Field.ADDRESS, Field.CONTENT, Field.DEMAND)
        )
        units: list[str] = []
        matched: list[str] = []
        for unit, keywords in self.rules:
            hits = [k for k in keywords if k in text]
            if hits and unit not in units:
                units.append(unit)
                matched.extend(hits)
        if not units:
            return Route(None, (), ())
        return Route(units[0], tuple(units[1:]), tuple(matched))
