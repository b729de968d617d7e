"""Reading one TOML table with its dotted path, so every error names file, field and reason.

Every accessor marks its key as used; ``done()`` then refuses any key nobody read, so a typo in
a profile (``handeling = ...``) stops start-up instead of silently dropping a rule.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NoReturn

from intake.errors import ConfigError
from intake.model import Field
from intake.policy.model import Basis, Limit, Unit

# The shipped profiles are the files of intake/policy/profiles/: a city is added by adding its file.
PROFILE_NAMES: tuple[str, ...] = tuple(
    sorted(p.stem for p in (Path(__file__).resolve().parent / "profiles").glob("*.toml"))
)
_UNIT_WORDS = {
    Unit.WORKDAYS: "working days",
    Unit.NATURAL_DAYS: "natural days",
    Unit.HOURS: "hours",
    Unit.MINUTES: "minutes",
    Unit.ORIGINAL: "times the original period",
}


def show(path: Path) -> str:
    """A path as the operator typed it: relative to the working folder when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive on Windows
        return str(path)
    return str(path) if rel.startswith("..") else rel


class Node:
    """One TOML table being read: remembers its dotted path and which keys were used."""

    def __init__(self, where: str, path: str, data: dict[str, Any]) -> None:
        self.where = where
        self.path = path
        self.data = data
        self.used: set[str] = set()

    def fail(self, key: str | None, reason: str) -> NoReturn:
        field_path = self.path if key is None else (f"{self.path}.{key}" if self.path else key)
        raise ConfigError(f"{self.where}: {field_path or '(top)'}: {reason}")

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str) -> Any:
        self.used.add(key)
        return self.data.get(key)

    def child(self, key: str, *, required: bool = True) -> Node | None:
        value = self.raw(key)
        if value is None:
            if required:
                self.fail(key, "missing (a table)")
            return None
        if not isinstance(value, dict):
            self.fail(key, "must be a table")
        return Node(self.where, f"{self.path}.{key}" if self.path else key, value)

    def table(self, key: str) -> Node:
        node = self.child(key)
        assert node is not None
        return node

    def text(self, key: str, *, required: bool = True) -> str | None:
        value = self.raw(key)
        if value is None:
            if required:
                self.fail(key, "missing (a text)")
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(key, "must be a non-empty text")
        return value.strip()

    def req_text(self, key: str) -> str:
        value = self.text(key)
        assert value is not None
        return value

    def flag(self, key: str, default: bool | None = None) -> bool:
        value = self.raw(key)
        if value is None:
            if default is None:
                self.fail(key, "missing (true or false)")
            return default
        if not isinstance(value, bool):
            self.fail(key, "must be true or false")
        return value

    def count(self, key: str, *, minimum: int = 0) -> int:
        value = self.raw(key)
        if value is None:
            self.fail(key, "missing (a whole number)")
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            self.fail(key, f"must be a whole number >= {minimum}")
        return value

    def texts(self, key: str, *, required: bool = True) -> tuple[str, ...]:
        value = self.raw(key)
        if value is None:
            if required:
                self.fail(key, "missing (a list of texts)")
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.fail(key, "must be a list of non-empty texts")
        if len(set(value)) != len(value):
            self.fail(key, "lists an item twice")
        return tuple(v.strip() for v in value)

    def choice(self, key: str, choices: tuple[str, ...], default: str | None = None) -> str:
        value = self.raw(key)
        if value is None:
            if default is None:
                self.fail(key, f"missing (one of {', '.join(choices)})")
            return default
        if value not in choices:
            self.fail(key, f"must be one of {', '.join(choices)}, not {value!r}")
        return str(value)

    def limit(
        self,
        key: str,
        *,
        required: bool = True,
        units: tuple[Unit, ...] = (Unit.WORKDAYS, Unit.NATURAL_DAYS, Unit.HOURS, Unit.MINUTES),
        allow_zero: bool = False,
        inherited: Limit | None = None,
    ) -> Limit | None:
        """A period written ``{ wd = 10, source = "guangzhou §14" }``: one unit key and its article."""
        value = self.raw(key)
        if value is None:
            if inherited is not None:
                return inherited
            if required:
                self.fail(key, f'missing (e.g. {{ {units[0].value} = 1, source = "city §N" }})')
            return None
        if value is False or value == "none":
            return None
        if not isinstance(value, dict):
            self.fail(key, 'must be a table like { wd = 1, source = "city §N" }')
        unit_keys = [k for k in value if k != "source"]
        if len(unit_keys) != 1 or unit_keys[0] not in {u.value for u in Unit}:
            self.fail(key, f"must give exactly one of {', '.join(u.value for u in units)} and a source")
        unit = Unit(unit_keys[0])
        if unit not in units:
            allowed = ", ".join(u.value for u in units)
            self.fail(key, f"cannot be counted in {_UNIT_WORDS[unit]} (use {allowed})")
        amount = value[unit.value]
        low = 0 if allow_zero else 1
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < low:
            adjective = "non-negative" if allow_zero else "positive"
            self.fail(key, f"must be a {adjective} number of {_UNIT_WORDS[unit]}")
        source = value.get("source")
        if not isinstance(source, str) or not source.strip():
            self.fail(key, 'must cite its article: source = "city §N"')
        return Limit(amount, unit, source.strip())

    def req_limit(self, key: str, **kwargs: Any) -> Limit:
        value = self.limit(key, required=True, **kwargs)
        if value is None:
            self.fail(key, "cannot be none")
        return value

    def fields(self, key: str) -> tuple[Field, ...]:
        names = self.texts(key, required=False)
        result = []
        for name in names:
            try:
                result.append(Field(name))
            except ValueError:
                self.fail(key, f"unknown field {name!r} (one of {', '.join(f.value for f in Field)})")
        return tuple(result)

    def basis(self) -> Basis:
        """Where a section's rules come from.

        ``source`` is the city's own article; where the city is silent, ``fallback`` names the
        profile (or ``none``) whose rule is used and ``reason`` says why.
        """
        source = self.text("source", required=False)
        fallback = self.text("fallback", required=False)
        reason = self.text("reason", required=False)
        if source is None and fallback is None:
            self.fail(None, 'must cite its article (source = "city §N") or name its fallback')
        if fallback is not None:
            head = fallback.split()[0]
            if head not in (*PROFILE_NAMES, "none"):
                self.fail("fallback", f"must start with a profile name or 'none', not {head!r}")
            if reason is None:
                self.fail("reason", "a fallback must say why the city's own text does not decide")
        elif reason is not None:
            self.fail("reason", "only a fallback carries a reason")
        return Basis(source, fallback, reason)

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            self.fail(unknown[0], "unknown key")
