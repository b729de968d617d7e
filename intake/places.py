"""China's cities and counties, and finding their names in a text.

The list is intake/data/places.tsv (scripts/places.py writes it from cpca's administrative codes):
each name as citizens write it (宝安区 and 宝安), its 6-digit division code and the prefecture-level
city it belongs to. The jurisdiction rule uses it to tell another city's matter from a local one,
and to name the city whose 12345 the citizen should call (宝安 → 深圳市).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from intake.errors import ConfigError

PLACES = Path(__file__).resolve().parent / "data" / "places.tsv"


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    code: str  # the division's 6-digit code: 440306 宝安区; a city's ends in 00, a province's in 0000
    city: str  # the prefecture-level city (a province for a province's own name)


class Places:
    """Every place of the list, by name (a name may be one division's or, 白云区, several)."""

    def __init__(self, places: Iterable[Place]) -> None:
        by_name: dict[str, list[Place]] = {}
        for p in places:
            by_name.setdefault(p.name, []).append(p)
        self._by_name = {name: tuple(ps) for name, ps in by_name.items()}

    @classmethod
    def parse(cls, text: str, source: str = "places") -> Places:
        out = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) != 3 or not all(parts):
                raise ConfigError(f"{source}:{n}: expected name, code and city separated by tabs")
            out.append(Place(*parts))
        return cls(out)

    def names_within(self, code: str) -> tuple[str, ...]:
        """Names of the divisions whose code starts with ``code`` ("4401": Guangzhou's)."""
        return tuple(name for name, ps in self._by_name.items() if any(p.code.startswith(code) for p in ps))

    def names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def city_of(self, name: str) -> str | None:
        """The city a name belongs to, when it belongs to one only (宝安 → 深圳市)."""
        cities = {p.city for p in self._by_name.get(name, ())}
        return cities.pop() if len(cities) == 1 else None


@functools.cache
def default_places() -> Places:
    try:
        return Places.parse(PLACES.read_text(encoding="utf-8"), str(PLACES))
    except OSError as exc:
        raise ConfigError(f"{PLACES}: {exc}") from None


class PlaceFinder:
    """Finds names of a set in a text, leftmost first and the longest at each point (沙坪坝区
    rather than 沙坪坝): a dictionary of names by their first character, so that a text is read
    once, whatever the number of names."""

    def __init__(self, names: Iterable[str]) -> None:
        lengths: dict[str, set[int]] = {}
        self._names = frozenset(n for n in names if n)
        for n in self._names:
            lengths.setdefault(n[0], set()).add(len(n))
        self._lengths = {c: tuple(sorted(ls, reverse=True)) for c, ls in lengths.items()}

    def __bool__(self) -> bool:
        return bool(self._names)

    def finditer(self, text: str) -> Iterator[tuple[int, int, str]]:
        """(start, end, name) of each name found, not overlapping."""
        i, n = 0, len(text)
        while i < n:
            for size in self._lengths.get(text[i], ()):
                if text[i : i + size] in self._names:
                    yield i, i + size, text[i : i + size]
                    i += size
                    break
            else:
                i += 1

    def search(self, text: str) -> bool:
        return next(self.finditer(text), None) is not None
