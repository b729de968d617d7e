"""Routing a ticket to its handling units by rules that are data (intake/data/routing.toml)."""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from intake.errors import ConfigError
from intake.model import Field, StoredEvent
from intake.phones import normalize_phone

DEFAULT_RULES = Path(__file__).resolve().parent / "data" / "routing.toml"
AGENTS_CHOICE = "坐席指定"  # what decided a route an agent chose (the dispatched event's "matched")


def agents_step(ticket_id: int, event_id: int) -> str:
    """The dispatch step's key when an agent routes a ticket from the console: the unit is the
    one the agent wrote on the ticket in the same transaction."""
    return f"dispatch:{ticket_id}:agent{event_id}"


def is_agents_choice(step_key: str) -> bool:
    return step_key.rsplit(":", 1)[-1].startswith("agent")


def agents_event(step_key: str, events: Sequence[StoredEvent]) -> StoredEvent | None:
    """The agent's "routed" event a dispatch step key names (``agents_step``), or None."""
    tail = step_key.rsplit(":", 1)[-1].removeprefix("agent")
    if not tail.isdigit():
        return None
    return next((e for e in events if e.id == int(tail) and e.type == "routed" and e.data.get("unit")), None)


@dataclass(frozen=True, slots=True)
class Route:
    lead: str | None  # None: the manual queue agents see
    helpers: tuple[str, ...]
    matched: tuple[str, ...]  # keywords that decided it, for the agent


@dataclass(frozen=True, slots=True)
class Router:
    rules: tuple[tuple[str, tuple[str, ...]], ...]
    manual_queue: str
    # unit -> the duty phone that gets SMS warnings where the profile says so (guangxi §34)
    duty_phones: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = DEFAULT_RULES) -> Router:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            rules = tuple((str(r["unit"]), tuple(str(k) for k in r["keywords"])) for r in data["rule"])
            manual = str(data["manual_queue"])
            phones = {str(unit): str(phone) for unit, phone in data.get("duty_phones", {}).items()}
        except (OSError, KeyError, TypeError, AttributeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: routing rules: {exc}") from None
        if not rules:
            raise ConfigError(f"{path}: rule: at least one rule is needed")
        duty: dict[str, str] = {}
        for unit, phone in phones.items():
            e164 = normalize_phone(phone)
            if e164 is None:
                raise ConfigError(f"{path}: duty_phones.{unit}: {phone!r} is not a phone number")
            duty[unit] = e164
        return cls(rules, manual, duty)

    @property
    def units(self) -> tuple[str, ...]:
        """Every unit a rule names, in the rules' order: what an agent may route a ticket to."""
        return tuple(dict.fromkeys(unit for unit, _ in self.rules))

    def route(self, fields: Mapping[Field, str], *, exclude: Collection[str] = ()) -> Route:
        """The lead unit and helpers whose keywords the ticket's fields name. ``exclude``: units
        that returned the ticket already (guangzhou §17: a return is reviewed and routed anew, not
        sent back to the unit that refused it); none left → the manual queue."""
        text = " ".join(
            fields.get(f, "") for f in (Field.SUBJECT, Field.ADDRESS, Field.CONTENT, Field.DEMAND)
        )
        units: list[str] = []
        matched: list[str] = []
        for unit, keywords in self.rules:
            hits = [k for k in keywords if k in text]
            if hits and unit not in units and unit not in exclude:
                units.append(unit)
                matched.extend(hits)
        if not units:
            return Route(None, (), ())
        return Route(units[0], tuple(units[1:]), tuple(matched))
