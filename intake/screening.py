"""Screening of every new request before a ticket is drafted.

(Long because one rule file drives five decisions, each with the checks it needs beside it:
emergencies with their timing, abuse, out of scope, another city with its places, urgent.)

The regulations list what the hotline must not take as an ordinary ticket: emergencies that belong to
110/119/120/122 (quxian §8.3, guangxi §21.3), matters outside its remit (huizhou §7, shaoyang §10,
guangxi §21, quxian §8), abuse of its staff (huizhou §8) and repeats of a handled matter with no new
facts (guangzhou §24, shaoyang §10.4). Urgent matters that *are* in scope (停水停电, sewage overflow, a
fallen tree across a road) are flagged so the dialog registers them in the profile's urgent class.

Every rule is data in ``intake/data/screening.toml`` (patterns, the channel to name, the reply); the
code only evaluates it, and each decision carries the id of the rule that fired.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from intake.data import SCREENING_RULES
from intake.errors import ConfigError
from intake.extract.segment import tokens
from intake.extract.text import chinese_count
from intake.extract.text import normalize as understood_form
from intake.kb.text import normalize
from intake.model import TicketStatus
from intake.places import PlaceFinder, Places, default_places
from intake.repeats import DEFAULT_REPEAT_THRESHOLD, Similarity
from intake.textmodel import TextModel, default_model

DEFAULT_RULES = SCREENING_RULES
NO_EMERGENCY = "none"  # the text model's emergency label for "no life at risk now"
IN_SCOPE = "in"  # its scope label for "the hotline takes it"
OTHER_CITY = "other_city"  # and for "the matter is in another city's jurisdiction"
MIN_CHINESE = 2  # Chinese characters a text needs before the text model reads it
# ... and Chinese characters or English words before the model alone finds a life at risk: 我好累,
# 我也不知道 are said in every conversation and tell too little (a phone number adds nothing); the
# rules read every text (他掐我, 救救我, 火更大了).
MIN_EMERGENCY_CHARS = 6
_LATIN_WORD = re.compile(r"[a-z]+")  # the rules' text is lower case
_QUOTES = "「『“‘\"'《"
_SENTENCE_END = re.compile(r"[。！!？?]|…+|\.{3,}")
CAUTION_CHINESE = (
    6  # ... and before its unsure emergencies are named ([caution]): "今天吃什么" says too little
)


class ScreenKind(StrEnum):
    """What screening decided; None from :meth:`Screener.screen` means an ordinary request."""

    EMERGENCY = "emergency"
    OUT_OF_SCOPE = "out_of_scope"
    ABUSE = "abuse"
    URGENT = "urgent"
    # A life may be at risk, but the text model is not sure enough to stop the request: the number
    # to call comes first, and the request is taken as usual ([caution], issue 16).
    CAUTION = "caution"


_STATUS = {ScreenKind.EMERGENCY: TicketStatus.REDIRECTED, ScreenKind.OUT_OF_SCOPE: TicketStatus.REJECTED}


@dataclass(frozen=True, slots=True)
class ScreenDecision:
    """The outcome of screening one text.

    Attributes:
        kind: emergency | out_of_scope | abuse | urgent | caution.
        rule_id: the rule that fired (for emergencies, the first of those that fired).
        reply: the zh-CN text to send first.
        caution: for a decision that lets the request go on (out of scope, urgent, caution), the
            zh-CN line naming the numbers to call when a life may be at risk; empty otherwise.
        status: REDIRECTED for emergencies, REJECTED for out-of-scope, None otherwise.
        numbers: emergency numbers to call, the right one first.
        reason: why it was rejected or redirected (the rule's label), kept on the record.
        channel: the proper channel named to the citizen (out-of-scope).
        urgent_kind: for urgent matters, which kind (utility_outage, sewage_overflow, road_blocked).
        rule_ids: every rule that fired, in evaluation order.
    """

    kind: ScreenKind
    rule_id: str
    reply: str
    status: TicketStatus | None = None
    numbers: tuple[str, ...] = ()
    reason: str = ""
    channel: str = ""
    urgent_kind: str | None = None
    rule_ids: tuple[str, ...] = ()
    caution: str = ""

    @property
    def urgent(self) -> bool:
        """True for an in-scope urgent matter: register it in the profile's urgent class."""
        return self.kind is ScreenKind.URGENT


@dataclass(frozen=True, slots=True)
class Rule:
    """One screening rule as data: patterns that make it fire and ``unless`` patterns that veto it."""

    id: str
    kind: ScreenKind
    label: str
    patterns: tuple[re.Pattern[str], ...]
    unless: tuple[re.Pattern[str], ...] = ()
    numbers: tuple[str, ...] = ()
    channel: str = ""
    urgent_kind: str | None = None
    places: tuple[str, ...] = ()
    all_places: bool = False  # and every city and county of intake/data/places.tsv
    place_cities: tuple[tuple[str, str], ...] = ()  # "厚街=东莞市": the city to call for a place
    psychological: bool = False  # a risk of self-harm: the profile's psychological line is named too
    timeless: bool = False  # fires also in a text told as past or habitual ([emergency] not_now)
    situation: str = ""  # an emergency's situation (medical, fire…), for [emergency] precedence
    # Right after a place, what makes it part of another name: 北京路, 中山大学, 兰州拉面, 中山区.
    name_after: re.Pattern[str] | None = None
    # Right before an own place, what makes it where the writer is from, not where the matter is:
    # 我是越秀区的家长, 我系惠阳人, 我们惠东的 (their matter may be in the other city they name).
    home_before: re.Pattern[str] | None = None
    home_after: re.Pattern[str] | None = None

    def vetoed(self, text: str) -> bool:
        return any(p.search(text) for p in self.unless)

    def fires(self, text: str) -> bool:
        """True when a pattern matches the normalised ``text`` and no ``unless`` pattern does."""
        return any(p.search(text) for p in self.patterns) and not self.vetoed(text)


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """The hotline's own city and its districts/counties, given by the caller (the policy profile)."""

    city: str
    districts: tuple[str, ...] = ()
    code: str = ""  # its division code in intake/data/places.tsv (4401: Guangzhou), if listed

    def names(self, places: Places | None = None) -> tuple[str, ...]:
        """The city and its districts as citizens write them: 梧州 as well as 梧州市; with
        ``places``, every name the list has within the code (天河, 天河区, 白云区…)."""
        names = [normalize(self.city).removesuffix("市")]
        if places is not None and self.code:
            names.extend(places.names_within(self.code))
        for d in map(normalize, self.districts):
            names.append(d)
            short = re.sub(r"(自治县|市|区|县|镇|街道)$", "", d)
            if len(short) >= 2 and short != d:
                names.append(short)
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True, slots=True)
class _Check:
    """A rule with what evaluating it on many texts needs, worked out once: its patterns in their
    search form, and ``other_places``, which finds the rule's places other than the own city and
    its districts."""

    rule: Rule
    patterns: tuple[re.Pattern[str], ...]
    other_places: PlaceFinder
    cities: dict[str, str]  # the city to call for a place the rule names ("厚街=东莞市")

    @classmethod
    def build(cls, rule: Rule, own: tuple[str, ...], places: Places | None = None) -> _Check:
        names = set(rule.places) | (set(places.names()) if rule.all_places and places else set())
        return cls(
            rule=rule,
            patterns=tuple(_search_form(p) for p in rule.patterns),
            other_places=PlaceFinder(names.difference(own)),
            cities=dict(rule.place_cities),
        )

    def fires(self, clean: str) -> bool:
        """``rule.fires(clean)``, with the search forms."""
        return any(p.search(clean) for p in self.patterns) and not self.rule.vetoed(clean)


def _search_form(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """The same test with the optional groups at its start left out: "(有人|小孩)?(要|想)?跳楼"
    is found in a text exactly when "跳楼" is, and the shorter pattern, which starts with
    characters, is found much faster."""
    source = pattern.pattern
    at = 0
    while source.startswith("(", at) and not source.startswith("(?", at):
        depth, end = 0, at
        while end < len(source):
            ch = source[end]
            if ch == "\\":
                end += 2
                continue
            depth += ch == "("
            depth -= ch == ")"
            end += 1
            if depth == 0:
                break
        if depth != 0 or not source.startswith("?", end) or source.startswith("??", end):
            break
        at = end + 1
    if at == 0 or at >= len(source):
        return pattern
    try:
        return re.compile(source[at:], pattern.flags)
    except re.error:
        return pattern


def _compile(values: object, where: str) -> tuple[re.Pattern[str], ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{where}: patterns must be a list of strings")
    out = []
    for value in values:
        try:
            # The text the rules read is NFKC (intake.kb.text.normalize: "，" is ","), so the
            # patterns are too: [^，。] stops at a comma however it was typed.
            out.append(re.compile(unicodedata.normalize("NFKC", value)))
        except re.error as exc:
            raise ConfigError(f"{where}: bad pattern {value!r} ({exc})") from exc
    return tuple(out)


def _last_sentence(text: str) -> str:
    parts = [p for p in _SENTENCE_END.split(text) if p.strip()]
    return parts[-1] if parts else ""


def _runs(found: Iterable[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """The spans of names found one right after another (博罗县|罗阳: one mention)."""
    spans: list[tuple[int, int]] = []
    for start, end, _name in found:
        if spans and spans[-1][1] == start:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def _strings(values: object, where: str) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{where}: must be a list of strings")
    return tuple(values)


class Screener:
    """Evaluates the screening rules on a request text; build once, share freely (it is immutable)."""

    def __init__(
        self,
        data: dict[str, Any],
        *,
        jurisdiction: Jurisdiction | None = None,
        source: str = "",
        model: TextModel | None = None,
        psychological: tuple[str, str] | None = None,
    ) -> None:
        self.source = source
        self.jurisdiction = jurisdiction
        self.model = model
        self.psychological = psychological  # (number, how the reply names it), from the profile
        labels = data.get("numbers", {})
        if not isinstance(labels, dict):
            raise ConfigError(f"{source}: [numbers] must map a number to its name")
        self._number_labels = {str(k): str(v) for k, v in labels.items()}
        self._replies: dict[ScreenKind, str] = {}
        self._rules: dict[ScreenKind, tuple[Rule, ...]] = {}
        for kind in ScreenKind:
            section = data.get(kind.value, {})
            if not isinstance(section, dict):
                raise ConfigError(f"{source}: [{kind.value}] must be a table")
            reply = section.get("reply")
            if not isinstance(reply, str) or not reply:
                raise ConfigError(f"{source}: [{kind.value}] needs a reply text")
            self._replies[kind] = reply
            self._rules[kind] = tuple(self._rule(kind, raw, source) for raw in section.get("rule", []))
        emergency = data.get("emergency", {})
        self._not_now_patterns = _compile(emergency.get("not_now", []), f"{source}: [emergency] not_now")
        self._now_patterns = _compile(emergency.get("now", []), f"{source}: [emergency] now")
        self._over_patterns = _compile(emergency.get("over", []), f"{source}: [emergency] over")
        self._settled_patterns = _compile(emergency.get("settled", []), f"{source}: [emergency] settled")
        caution = data.get("caution", {})
        self._announcements = _compile(caution.get("announcements", []), f"{source}: [caution] announcements")
        self._letter_chars = int(emergency.get("letter_chars", 200))
        self._last_sentence_after = int(emergency.get("last_sentence_after", 120))
        self._precedence = tuple(str(x) for x in emergency.get("precedence", ()))
        self._situations = self._situation_rules(emergency.get("situation", {}), source)
        if model is not None:
            if "emergency" not in model.heads:
                raise ConfigError(f"{source}: the text model has no emergency head")
            unknown = {
                lab.split("/")[0] for lab in model.heads["emergency"].labels if lab != NO_EMERGENCY
            } - set(self._situations)
            if unknown:
                raise ConfigError(f"{source}: [emergency.situation] lacks the model's {sorted(unknown)}")
        self.emergency_threshold = model.thresholds.get("emergency", 0.5) if model is not None else 1.0
        # Below the emergency threshold and at least this: the numbers are named, the request goes on.
        self.caution_threshold = model.thresholds.get("caution", 1.0) if model is not None else 1.0
        self.scope_threshold = model.thresholds.get("scope", 0.5) if model is not None else 1.0
        scope_head = model.heads.get("scope") if model is not None else None
        self._reads_scope = scope_head is not None and {IN_SCOPE, OTHER_CITY} <= set(scope_head.labels)
        thresholds = model.thresholds if model is not None else {}
        self.other_city_threshold = thresholds.get("other_city", 0.5)
        self.keep_local_threshold = thresholds.get("keep_local", 0.0)
        # The out-of-scope reasons the model may give, each with the rule whose words it uses.
        self._scope_rules = {
            r.id.removeprefix("out_of_scope."): r
            for r in self._rules[ScreenKind.OUT_OF_SCOPE]
            if not (r.places or r.all_places)
        }
        repeat = data.get("repeat", {})
        self.repeat_threshold = float(repeat.get("threshold", DEFAULT_REPEAT_THRESHOLD))
        self.repeat_reply = str(repeat.get("reply", ""))
        self._similarity = Similarity.from_data(repeat)
        # Built once, not per message: the own names and each rule's _Check.
        rules_all = [r for rules in self._rules.values() for r in rules]
        self._places = default_places() if jurisdiction is not None and jurisdiction.code else None
        own = jurisdiction.names(self._places) if jurisdiction is not None else ()
        if jurisdiction is not None:
            # A town a rule names with the city it is in ("新塘=广州市") is the own city's, for that city.
            mine = normalize(jurisdiction.city)
            own = (*own, *(p for r in rules_all for p, city in r.place_cities if normalize(city) == mine))
        self._own_names = PlaceFinder(own)
        self._checks = {
            kind: tuple(_Check.build(rule, own, self._places) for rule in rules)
            for kind, rules in self._rules.items()
        }
        # The rule that names places (the jurisdiction rule), found once.
        self._jurisdiction_check = next(
            (c for c in self._checks[ScreenKind.OUT_OF_SCOPE] if c.other_places), None
        )
        # The dialog screens each message twice (the emergency check first, then the screening
        # proper); the decision is a pure function of the text.
        self._screen_cached = lru_cache(maxsize=256)(self._screen)

    def _rule(self, kind: ScreenKind, raw: dict[str, Any], source: str) -> Rule:
        ident = raw.get("id")
        if not isinstance(ident, str) or not ident:
            raise ConfigError(f"{source}: a [{kind.value}] rule has no id")
        where = f"{source}: rule {ident}"
        numbers = _strings(raw.get("numbers", []), where)
        unknown = [n for n in numbers if n not in self._number_labels]
        if unknown:
            raise ConfigError(f"{where}: numbers {unknown} have no entry in [numbers]")
        if kind is ScreenKind.EMERGENCY and not numbers:
            raise ConfigError(f"{where}: an emergency rule must name the numbers to call")
        if kind is ScreenKind.URGENT and not raw.get("urgent_kind"):
            raise ConfigError(f"{where}: an urgent rule must name its urgent_kind")
        return Rule(
            id=ident,
            kind=kind,
            label=str(raw.get("label", ident)),
            patterns=_compile(raw.get("patterns", []), where),
            unless=_compile(raw.get("unless", []), where),
            numbers=numbers,
            channel=str(raw.get("channel", "")),
            urgent_kind=str(raw["urgent_kind"]) if raw.get("urgent_kind") else None,
            places=tuple(normalize(p.partition("=")[0]) for p in _strings(raw.get("places", []), where)),
            place_cities=tuple(
                (normalize(name), city)
                for name, _, city in (p.partition("=") for p in _strings(raw.get("places", []), where))
                if city
            ),
            all_places=bool(raw.get("all_places", False)),
            name_after=_compile([raw["name_after"]], where)[0] if raw.get("name_after") else None,
            home_before=_compile([raw["home_before"]], where)[0] if raw.get("home_before") else None,
            home_after=_compile([raw["home_after"]], where)[0] if raw.get("home_after") else None,
            psychological=bool(raw.get("psychological", False)),
            timeless=bool(raw.get("timeless", False)),
            situation=str(raw.get("situation", "")),
        )

    def _situation_rules(self, raw: object, source: str) -> dict[str, Rule]:
        """[emergency.situation]: for each situation the text model knows, its label and numbers."""
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: [emergency.situation] must be a table")
        out = {}
        for name, entry in raw.items():
            if not isinstance(entry, dict):
                raise ConfigError(f"{source}: [emergency.situation.{name}] must be a table")
            out[name] = self._rule(
                ScreenKind.EMERGENCY, {"id": f"model.{name}", "situation": name, **entry}, source
            )
        return out

    @classmethod
    def from_file(
        cls,
        path: Path | str | None = None,
        *,
        jurisdiction: Jurisdiction | None = None,
        model: TextModel | bool | None = True,
        psychological: tuple[str, str] | None = None,
    ) -> Screener:
        """Load the rules (default: the shipped ``intake/data/screening.toml``).

        Args:
            path: the rules file.
            jurisdiction: the hotline's city and districts; without it the other-city rule is off.
            model: the text model that recognises emergencies beside the rules (True: the shipped
                one, intake/textmodel.py; False or None: rules only).
            psychological: the profile's line for a risk of self-harm, (number, its name)
                ([emergency] psychological_line; intake.assembly.screener_for passes it).

        Raises:
            ConfigError: unreadable file, bad TOML, a bad pattern, or a rule missing what it needs.
        """
        source = Path(path) if path is not None else DEFAULT_RULES
        try:
            with source.open("rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read ({exc.strerror})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML ({exc})") from exc
        text_model = default_model() if model is True else model or None
        return cls(
            data, jurisdiction=jurisdiction, source=str(source), model=text_model, psychological=psychological
        )

    def rules(self, kind: ScreenKind) -> tuple[Rule, ...]:
        """The rules of one kind, in evaluation order (for agents' and tests' inspection)."""
        return self._rules[kind]

    def screen(self, text: str) -> ScreenDecision | None:
        """Decide what this request is before any ticket is drafted; None for an ordinary request.

        Order: emergency (life first) → abuse → out of scope → urgent-in-scope.
        """
        return self._screen_cached(text)

    def _screen(self, text: str) -> ScreenDecision | None:
        clean = normalize(text)
        if not clean:
            return None
        # The rules read ``clean``; the text model reads the text as understanding gave it to
        # the model (and as it was trained), so one prediction serves the whole turn.
        read = understood_form(text)
        emergency = self._emergency(clean, read)
        if emergency is not None and emergency.kind is ScreenKind.EMERGENCY:
            return emergency
        abuse = self._first(ScreenKind.ABUSE, clean)
        if abuse is not None:
            return abuse
        decision = self._out_of_scope(clean, read) or self._first(ScreenKind.URGENT, clean)
        caution = emergency or self._caution(clean, read)  # a bare cry for help comes as a caution
        if caution is None:
            return decision
        return caution if decision is None else replace(decision, caution=caution.reply)

    def _emergency(self, clean: str, read: str) -> ScreenDecision | None:
        """The text model and the rules, either enough: recall first (issue 16). The model's
        situation says which number comes first; the rules add theirs after it."""
        fired: list[Rule] = []
        checks = [c for c in self._checks[ScreenKind.EMERGENCY] if c.fires(clean)]
        if checks and self._not_now(clean):
            checks = [c for c in checks if c.rule.timeless and not self._over(clean)]
        fired.extend(c.rule for c in checks)
        learned: list[Rule] = []
        situation = self.situation(clean, read)
        if situation is not None and not fired and self._abusive(clean):
            # "我要弄死你们" said to the hotline is abuse (huizhou §8), not a life at risk: the
            # model reads the words, not whom they are aimed at.
            situation = None
        if situation is not None:
            name, first = situation
            rule = self._situations[name]
            learned.append(replace(rule, numbers=(first, *rule.numbers)))
        if not fired and not learned:
            return None
        if not learned and all(not r.situation for r in fired) and self._reads_as_ordinary(clean, read):
            # A bare cry for help ("救命") in a message the model reads as an ordinary matter ("宽带断咗
            # 三日 救命", "社保卡密码锁了 救命啊"): the numbers first, and the request goes on.
            return self._as_caution(fired, (n for r in fired for n in r.numbers), psychological=False)
        # The rule that fired is what an agent reads as the reason. The numbers: the model's
        # (trained on which number people in that situation need first), then the rules'; when the
        # rules found a more particular situation than the model, its number goes first.
        order = [*learned, *fired]
        rank = {name: i for i, name in enumerate(self._precedence)}
        top = min(order, key=lambda r: rank.get(r.situation, len(rank)))
        fired.extend(learned)
        numbers, spoken = self._named(
            tuple(dict.fromkeys(n for r in (top, *order) for n in r.numbers)),
            psychological=any(r.psychological for r in fired),
        )
        return ScreenDecision(
            kind=ScreenKind.EMERGENCY,
            rule_id=fired[0].id,
            reply=self._replies[ScreenKind.EMERGENCY].format(numbers=spoken),
            status=TicketStatus.REDIRECTED,
            numbers=numbers,
            reason="、".join(dict.fromkeys(r.label for r in fired)),
            rule_ids=tuple(r.id for r in fired),
        )

    def _reads_as_ordinary(self, clean: str, read: str) -> bool:
        """The text model reads enough of the text and finds no life at risk in it, not even
        enough to name a number (below the caution threshold)."""
        if self.model is None or chinese_count(clean) < CAUTION_CHINESE:
            return False
        at_risk = 1.0 - self.model.predict(read)["emergency"].prob(NO_EMERGENCY)
        return at_risk < min(self.caution_threshold, self.emergency_threshold)

    def _as_caution(
        self, rules: list[Rule], numbers: Iterable[str], *, psychological: bool
    ) -> ScreenDecision:
        """The numbers named first while the request goes on ([caution]), for ``rules``."""
        named, spoken = self._named(tuple(dict.fromkeys(numbers)), psychological=psychological)
        return ScreenDecision(
            kind=ScreenKind.CAUTION,
            rule_id=f"{rules[0].id}.caution",
            reply=self._replies[ScreenKind.CAUTION].format(numbers=spoken),
            numbers=named,
            reason=rules[0].label,
            rule_ids=tuple(f"{r.id}.caution" for r in rules),
        )

    def _named(self, numbers: tuple[str, ...], *, psychological: bool) -> tuple[tuple[str, ...], str]:
        """The numbers to call, with the profile's psychological line last for a risk of
        self-harm, and how the reply says them ("120急救电话、110报警电话…")."""
        labels = self._number_labels
        if self.psychological is not None and psychological:
            number, label = self.psychological
            numbers = tuple(dict.fromkeys((*numbers, number)))
            labels = {**labels, number: label}
        return numbers, "、".join(labels.get(n, n) for n in numbers)

    def _caution(self, clean: str, read: str) -> ScreenDecision | None:
        """The numbers to name first when the model finds a life at risk now likely, but not likely
        enough to stop the request (a redirection is right for a real emergency and wrong for
        its look-alikes: "我老公刚才喝了酒" is not "刚才喝了农药"). Told as past or over: nothing."""
        if self.caution_threshold >= self.emergency_threshold:
            return None
        if chinese_count(clean) < CAUTION_CHINESE:  # a few characters: the model guesses from noise
            return None
        if any(p.fullmatch(clean) for p in self._announcements):  # "我想反映一个情况": nothing told yet
            return None
        found = self.situation(clean, read, threshold=self.caution_threshold)
        if found is None:
            return None
        name, first = found
        rule = self._situations[name]
        return self._as_caution([rule], (first, *rule.numbers), psychological=rule.psychological)

    def _over(self, clean: str) -> bool:
        if any(p.search(clean) for p in self._over_patterns):
            return True
        # put right, unless a word of now comes after it: "修好了，但现在又闻到煤气味" is not over
        return any(
            not any(now.search(clean, m.end()) for now in self._now_patterns)
            for p in self._settled_patterns
            for m in p.finditer(clean)
        )

    def _not_now(self, clean: str) -> bool:
        """The text tells of a situation that is not happening now ([emergency] over, not_now, now)."""
        if self._over(clean):
            return True
        if not any(p.search(clean) for p in self._not_now_patterns):
            return False
        return len(clean) > self._letter_chars or not any(p.search(clean) for p in self._now_patterns)

    def _told_as_past(self, clean: str) -> bool:
        """[emergency] timing for the model's findings: over is over; but a letter (history first,
        "去年…之前…") that turns into an emergency at its end is the model's to read, not the
        words' (the model learned timing from the corpus)."""
        return self._over(clean) or (len(clean) <= self._letter_chars and self._not_now(clean))

    def _abusive(self, clean: str) -> bool:
        return any(c.fires(clean) for c in self._checks[ScreenKind.ABUSE])

    def situation(
        self, clean: str, read: str | None = None, *, threshold: float | None = None
    ) -> tuple[str, str] | None:
        """The model's emergency situation and the number to call first, when it finds a life at
        risk now at least ``threshold`` likely (default: sure enough to redirect); None otherwise
        (or without a model). The model reads ``read`` (the text as understanding normalised
        it), the rules ``clean``."""
        if self.model is None or chinese_count(clean) < MIN_CHINESE:
            return None  # the model learned from Chinese; other text is left to the rules
        if chinese_count(clean) + len(_LATIN_WORD.findall(clean)) < MIN_EMERGENCY_CHARS:
            return None
        at = self.emergency_threshold if threshold is None else threshold
        found = self._situation(clean, clean if read is None else read, at)
        if found is None and chinese_count(clean) >= self._last_sentence_after:
            last, last_read = _last_sentence(clean), _last_sentence(clean if read is None else read)
            if chinese_count(last) >= MIN_EMERGENCY_CHARS:
                found = self._situation(last, last_read, at)
        return found

    def _situation(self, clean: str, read: str, at: float) -> tuple[str, str] | None:
        pred = self.model.predict(read)["emergency"] if self.model is not None else None
        if pred is None or 1.0 - pred.prob(NO_EMERGENCY) < at or self._told_as_past(clean):
            return None
        best = next(lab for lab, _ in pred.ranked if lab != NO_EMERGENCY)
        name, _, first = best.partition("/")
        return name, first

    def _first(self, kind: ScreenKind, clean: str) -> ScreenDecision | None:
        for check in self._checks[kind]:
            if check.fires(clean):
                rule = check.rule
                return ScreenDecision(
                    kind=kind,
                    rule_id=rule.id,
                    reply=self._replies[kind],
                    status=_STATUS.get(kind),
                    reason=rule.label,
                    urgent_kind=rule.urgent_kind,
                    rule_ids=(rule.id,),
                )
        return None

    def _out_of_scope(self, clean: str, read: str) -> ScreenDecision | None:
        """The rules first; then the text model, for the matters no pattern names (another city
        is the rules' alone: only they know the own city's places)."""
        for check in self._checks[ScreenKind.OUT_OF_SCOPE]:
            rule = check.rule
            place = ""
            if check is self._jurisdiction_check:
                place = self._other_place(clean, read) or ""
                if not place:
                    continue
            elif not check.fires(clean):
                continue
            return self._refusal(rule, place)
        reason = self.scope(clean, read)
        return self._refusal(self._scope_rules[reason], "", learned=True) if reason else None

    def _refusal(self, rule: Rule, place: str, *, learned: bool = False) -> ScreenDecision:
        channel = rule.channel.format(place=place)
        return ScreenDecision(
            kind=ScreenKind.OUT_OF_SCOPE,
            rule_id=rule.id,
            reply=self._replies[ScreenKind.OUT_OF_SCOPE].format(label=rule.label, channel=channel),
            status=TicketStatus.REJECTED,
            reason=f"{rule.label}（{place}）" if place else rule.label,
            channel=channel,
            rule_ids=(f"model.{rule.id}",) if learned else (rule.id,),
        )

    def scope(self, clean: str, read: str | None = None) -> str | None:
        """Why the text model finds the matter outside the hotline's remit (a reason with an
        ``out_of_scope.<reason>`` rule), or None (``read`` as for ``situation``)."""
        if not self._reads_scope or self.model is None or chinese_count(clean) < MIN_CHINESE:
            return None
        pred = self.model.predict(clean if read is None else read)["scope"]
        if 1.0 - pred.prob(IN_SCOPE) - pred.prob(OTHER_CITY) < self.scope_threshold:
            return None
        reason = next((lab for lab, _ in pred.ranked if lab in self._scope_rules), None)
        # The reason's rule knows its in-scope look-alikes (退役军人 is not 军队): its unless holds.
        return None if reason is None or self._scope_rules[reason].vetoed(clean) else reason

    def places_named(self, clean: str) -> tuple[str | None, bool]:
        """The other city the normalised text names (宝安 → 深圳市), or None; and whether the text
        also names the own city or one of its places, or says why a place elsewhere is still a
        local matter (the rule's unless: 户口迁入, 异地就医备案). Then only the text model can tell
        which city the matter is in (its threshold other_city is chosen on such texts)."""
        check = self._jurisdiction_check
        if self.jurisdiction is None or check is None:
            return None, False
        name_after = check.rule.name_after
        found = list(check.other_places.finditer(clean))
        if not found:
            return None, False
        # A name is a place only as a word of the text: 隧道里 holds 道里 (Harbin's 道里区); and
        # not as a person's given name after the surname (杨|秀英: the tagger marks both nr, a person).
        words = tokens(clean)
        edges = {e for t in words for e in (t.start, t.end)}
        # Nor inside or right after one of the own places: 渠北镇 holds 北镇 (锦州's), 大亚湾西区
        # is 大亚湾's west, not 攀枝花's 西区.
        own = [(start, end) for start, end, _ in self._own_names.finditer(clean)]
        given = {b.start for a, b in pairwise(words) if a.flag == b.flag == "nr" and len(a.word) == 1}
        place = next(
            (
                name
                for start, end, name in found
                # (a full name may run on into a word: 东安县城 is 东安县's town)
                if (not edges or (start in edges and (end in edges or name[-1] in "县区市旗")))
                and start not in given
                and not any(a <= start < b or a < end <= b or start == b for a, b in own)
                # a name in quotes is a shop's or a dish's: 「汕尾海鲜大排档」
                and (start == 0 or clean[start - 1] not in _QUOTES)
                # 北京路 is a street of this city, 兰州拉面 a noodle shop on it: a place that
                # begins another name is not the city (issue 16).
                and (name_after is None or not name_after.match(clean, end))
            ),
            None,
        )
        if place is None:
            return None, False
        # the city to call: 厚街 is 东莞市's (the rule says), 宝安 深圳市's (places.tsv)
        place = (
            check.cities.get(place)
            or (self._places.city_of(place) if self._places is not None else None)
            or place
        )
        return place, self._names_own_matter(clean, check.rule) or check.rule.vetoed(clean)

    def _names_own_matter(self, clean: str, rule: Rule) -> bool:
        """Whether the text names the own city or one of its places other than as where the
        writer is from ("我是博罗县罗阳的居民，儿子在深圳大学读书": 博罗县罗阳 is home, the
        matter is in Shenzhen). A home is said before (home_before: 我是) and after (home_after:
        的, 人, 一家); "我系广州户口" is not a home town but the register the service is asked of.
        Consecutive names (博罗县罗阳) are one mention."""
        before, after = rule.home_before, rule.home_after
        for start, end in _runs(self._own_names.finditer(clean)):
            home = (
                before is not None
                and after is not None
                and before.search(clean, max(0, start - 8), start) is not None
                and after.match(clean, end) is not None
            )
            if not home:
                return True
        return False

    def _other_place(self, clean: str, read: str) -> str | None:
        """The other city a text is about, if it names one, and the model does not find it local."""
        place, guarded = self.places_named(clean)
        if place is None:
            return None
        elsewhere = self._elsewhere(read)
        if guarded:
            # "我人在广州，深圳的房子漏水": the own city named too; only the model can tell which
            # city the matter is in.
            return place if elsewhere is not None and elsewhere >= self.other_city_threshold else None
        return None if elsewhere is not None and elsewhere < self.keep_local_threshold else place

    def _elsewhere(self, read: str) -> float | None:
        """The model's probability that the matter is in another city (None without a model)."""
        if not self._reads_scope or self.model is None:
            return None
        return self.model.predict(read)["scope"].prob(OTHER_CITY)

    def similar(self, a: str, b: str) -> float:
        """Similarity of two request texts in [0, 1], with this file's synonyms and place words."""
        return self._similarity.similar(a, b)

    def is_repeat(self, new_text: str, earlier_text: str) -> bool:
        """True when ``new_text`` restates ``earlier_text`` (guangzhou §24: same matter, no new facts)."""
        return self._similarity.similar(new_text, earlier_text) >= self.repeat_threshold
