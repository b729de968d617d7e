"""The labelled corpus (intake/data/corpus/, GUIDE.md there) and how the product is scored on it.

Each record is a citizen's first message with what a careful clerk would decide. ``first_reply``
runs the real dialog (intake.dialog.step) with the real understanding, screening, knowledge base
and the record's city profile, and reads what the citizen would meet: an emergency number, a
refusal, an answer, a yes/no question, six buttons or a category taken. ``score`` adds those up
into the figures bench/understanding_quality.py prints and tests/unit/test_understanding_quality.py
holds to floors. Used on the dev split to tune and on the test split to report; nothing here
learns from what it scores.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from intake.assembly import KnowledgePort, ScreeningPort, screener_for
from intake.dialog import (
    PRAISE_NOTED,
    CloseDraft,
    DialogState,
    RecordAnswered,
    RecordScreening,
    Register,
    SaveDraft,
    Stage,
    StepContext,
    Understanding,
    step,
)
from intake.extract.text import normalize
from intake.idcard import check_character
from intake.kb import KnowledgeBase
from intake.model import SHANGHAI, Category, Channel, Field, TicketStatus
from intake.phones import normalize_phone
from intake.policy import ProfilePolicy, load_profile
from intake.textmodel import TextModel
from intake.understanding import ExtractUnderstanding

CORPUS = Path(__file__).resolve().parent / "data" / "corpus"
SPLITS = ("train", "dev", "test")
CHANNELS = {"chat": Channel.WEBCHAT, "sms": Channel.SMS, "email": Channel.EMAIL, "telegram": Channel.TELEGRAM}
_NUMBER = re.compile(r"(?<!\d)(11[09]|12[02]|1\d{4}(?<!12345))(?!\d)")  # not the hotline's own 12345
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)  # a Tuesday morning: no deadline edge


@dataclass(frozen=True, slots=True)
class Record:
    """One labelled message (the fields of GUIDE.md)."""

    id: str
    city: str
    channel: str
    text: str
    kind: str  # emergency | out_of_scope | kb | ticket
    split: str
    category: str | None = None
    also: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    situation: str | None = None
    reason: str | None = None
    urgent: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    style: str = ""

    @property
    def acceptable(self) -> frozenset[str]:
        return frozenset(c for c in (self.category, *self.also) if c)


def split_of(ident: str) -> str:
    """The split a record is given once (scripts/corpus_split.py writes it into the record):
    train 70 %, dev 15 %, test 15 %, from a hash of its id, so file order does not matter."""
    bucket = int(hashlib.sha256(ident.encode()).hexdigest()[:8], 16) % 100
    return "train" if bucket < 70 else "dev" if bucket < 85 else "test"


def load(splits: Iterable[str] = SPLITS, folder: Path = CORPUS) -> list[Record]:
    """The records of the given splits, in file order."""
    wanted = set(splits)
    out = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            raw: dict[str, Any] = json.loads(line)
            split = raw.get("split") or split_of(raw["id"])
            if split not in wanted:
                continue
            out.append(
                Record(
                    id=raw["id"],
                    city=raw["city"],
                    channel=raw["channel"],
                    text=raw["text"],
                    kind=raw["kind"],
                    split=split,
                    category=raw.get("category"),
                    also=tuple(raw.get("also", ())),
                    numbers=tuple(raw.get("numbers", ())),
                    situation=raw.get("situation"),
                    reason=raw.get("reason"),
                    urgent=raw.get("urgent"),
                    fields=dict(raw.get("fields", {})),
                    style=raw.get("style", ""),
                )
            )
    return out


class Met(StrEnum):
    """What the citizen meets in the first reply."""

    EMERGENCY = "emergency"  # told to call a number now
    REFUSED = "refused"  # out of scope, with the proper channel
    ANSWERED = "answered"  # answered from the knowledge base
    TAKEN = "taken"  # the category was taken without asking
    CONFIRM = "confirm"  # asked yes/no about a guessed category
    BUTTONS = "buttons"  # asked to choose among the categories
    OTHER = "other"  # anything else (a greeting, an abuse warning, a repeat…)


@dataclass(frozen=True, slots=True)
class Outcome:
    met: Met
    category: str | None = None  # taken or guessed
    numbers: tuple[str, ...] = ()  # in the order the reply names them
    rule: str = ""  # the screening rule that fired
    caution: tuple[str, ...] = ()  # numbers named first while the request went on ([caution])

    @property
    def first_number(self) -> str | None:
        """The number the citizen is told to call first, by a redirection or a caution."""
        named = self.numbers if self.met is Met.EMERGENCY else self.caution
        return named[0] if named else None


@dataclass(frozen=True)
class Product:
    """The parts a first reply comes from, for one city profile."""

    policy: ProfilePolicy
    screening: ScreeningPort
    knowledge: KnowledgePort
    understanding: Understanding

    def context(self, channel: Channel) -> StepContext:
        return StepContext(
            policy=self.policy,
            understanding=self.understanding,
            now=NOW,
            channel=channel,
            screening=self.screening,
            knowledge=self.knowledge,
            repeats=self.screening,
        )


@cache
def _kb() -> KnowledgePort:
    return KnowledgePort(KnowledgeBase.load())


_models: dict[str, TextModel] = {}


def use_model(model: TextModel) -> None:
    """Score with ``model`` instead of the shipped one (a model fitted on train only, to read
    the dev split honestly: scripts/train_understanding.py --fit-on train)."""
    _models["model"] = model
    product.cache_clear()


@cache
def product(city: str) -> Product:
    """The shipped rules, model and knowledge base as the assembly wires them for ``city``."""
    profile = load_profile(city)
    model = _models.get("model")
    screener = screener_for(profile, model)  # the same rules and profile, with another model if set
    return Product(
        ProfilePolicy(profile), ScreeningPort(screener, profile), _kb(), ExtractUnderstanding(model)
    )


def first_reply(rec: Record, parts: Callable[[str], Product] = product) -> Outcome:
    """What the product answers to ``rec.text`` as a first message on its channel."""
    p = parts(rec.city)
    result = step(DialogState(), rec.text, p.context(CHANNELS.get(rec.channel, Channel.WEBCHAT)))
    caution = tuple(_NUMBER.findall(result.replies[0].text)) if result.cautioned else ()
    for action in result.actions:
        if isinstance(action, RecordScreening):
            text = result.replies[0].text if result.replies else ""
            if action.status is TicketStatus.REDIRECTED:
                return Outcome(Met.EMERGENCY, numbers=tuple(_NUMBER.findall(text)), rule=action.rule_id)
            if action.rule_id == PRAISE_NOTED:  # a profile without 表扬: thanked and closed
                return Outcome(Met.TAKEN, Category.PRAISE.value, rule=action.rule_id, caution=caution)
            return Outcome(Met.REFUSED, rule=action.rule_id, caution=caution)
        if isinstance(action, RecordAnswered):
            return Outcome(
                Met.ANSWERED, Category.CONSULTATION.value, rule=f"kb:{action.entry_id}", caution=caution
            )
    state = result.state
    for action in result.actions:  # a complete first message is registered at once
        if isinstance(action, (SaveDraft, Register)) and action.state.category is not None:
            state = action.state
    if state.stage is Stage.CONFIRM_CATEGORY:
        return Outcome(Met.CONFIRM, state.choices[0], caution=caution)
    if state.stage is Stage.CHOOSE_CATEGORY:
        return Outcome(Met.BUTTONS, caution=caution)
    if state.category is not None:
        return Outcome(Met.TAKEN, state.category.value, caution=caution)
    return Outcome(Met.OTHER, caution=caution)


# -- a whole conversation -------------------------------------------------------------------------
_ID_HEAD = "44010619850315123"
# What a citizen answers when asked for an item the first message did not hold, as people type
# it (no "地址：" labels): the same for every record, so a measure of the dialog, not of the answers.
ANSWERS: Mapping[Field, str] = {
    Field.PHONE: "13826150947",
    Field.ADDRESS: "在幸福路88号",
    Field.SUBJECT: "不知道是谁",
    Field.DEMAND: "希望尽快处理",
    Field.NAME: "我叫陈国平",
    Field.ID_NUMBER: "身份证" + _ID_HEAD + check_character(_ID_HEAD),
    Field.HOME_ADDRESS: "我住在幸福路88号",
    Field.CONTENT: "情况就是上面说的",
}
MAX_TURNS = 6


@dataclass(frozen=True, slots=True)
class Talk:
    """A ticket record played to its end by a citizen who answers what is asked (``converse``)."""

    turns: int | None  # citizen messages up to the one that got the ticket number; None: never
    asked_said: tuple[str, ...] = ()  # labelled items the first reply asked for again


def converse(rec: Record, parts: Callable[[str], Product] = product) -> Talk:
    """Play ``rec`` as a conversation: its text first, then a citizen who confirms a right guess
    (or picks the labelled category), answers every item asked in one message (``ANSWERS``), and
    says "继续实名办理" when a real-name matter asks. Counts the messages until the ticket number."""
    p = parts(rec.city)
    ctx = p.context(CHANNELS.get(rec.channel, Channel.WEBCHAT))
    state, text = DialogState(), rec.text
    asked_said: tuple[str, ...] = ()
    for turn in range(1, MAX_TURNS + 1):
        result = step(state, text, ctx)
        if any(isinstance(a, Register) for a in result.actions):
            return Talk(turn, asked_said)
        if any(isinstance(a, (CloseDraft, RecordScreening, RecordAnswered)) for a in result.actions):
            return Talk(None, asked_said)
        state = result.state
        if state.stage is Stage.CONFIRM_CATEGORY:
            text = "是" if state.choices and state.choices[0] in rec.acceptable else "不是"
        elif state.stage is Stage.CHOOSE_CATEGORY:
            text = rec.category or "咨询"
        elif state.stage is Stage.REAL_NAME:
            text = "继续实名办理"
        elif state.stage is Stage.HIDE_ITEMS:
            text = "姓名"
        elif state.stage is Stage.COLLECTING and state.asked:
            if turn == 1:
                asked_said = tuple(n for n, f in _FIELDS.items() if f in state.asked and n in rec.fields)
            text = "，".join(ANSWERS[f] for f in state.asked)
        else:
            return Talk(None, asked_said)
    return Talk(None, asked_said)


# -- scoring ---------------------------------------------------------------------------------------
CATEGORIES = tuple(c.value for c in Category)


@dataclass
class Report:
    """The figures of one split (see bench/understanding_quality.py for what each means)."""

    n: int = 0
    emergencies: int = 0
    emergency_found: Counter[str] = field(default_factory=Counter)  # by the labelled first number
    emergency_total: Counter[str] = field(default_factory=Counter)
    right_first: int = 0
    redirected: int = 0  # emergencies whose request was stopped with the numbers (the rest: caution)
    missed: list[str] = field(default_factory=list)
    wrong_first: list[str] = field(default_factory=list)
    non_emergencies: int = 0
    false_emergencies: list[str] = field(default_factory=list)
    cautioned: list[str] = field(default_factory=list)  # other messages told the numbers first
    tickets: int = 0  # ticket and kb records: the category measures
    met: Counter[Met] = field(default_factory=Counter)
    right: int = 0
    wrong: list[str] = field(default_factory=list)
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)  # (label, decided or "?")
    out_of_scope: Counter[str] = field(default_factory=Counter)
    out_of_scope_found: Counter[str] = field(default_factory=Counter)
    out_of_scope_missed: list[str] = field(default_factory=list)
    refused_local: list[str] = field(default_factory=list)  # in scope but refused
    other_city_refused_local: list[str] = field(default_factory=list)
    field_total: Counter[str] = field(default_factory=Counter)
    field_right: Counter[str] = field(default_factory=Counter)
    turns: list[int] = field(default_factory=list)  # ticket records: messages to the number (converse)
    no_number: list[str] = field(default_factory=list)  # ticket records that never got one
    asked_said: Counter[str] = field(default_factory=Counter)  # labelled items asked for again
    asked_said_examples: list[str] = field(default_factory=list)
    micros: list[float] = field(default_factory=list)

    @property
    def emergency_recall(self) -> float:
        return sum(self.emergency_found.values()) / max(1, self.emergencies)

    @property
    def right_number_first(self) -> float:
        return self.right_first / max(1, self.emergencies)

    @property
    def false_emergency_rate(self) -> float:
        return len(self.false_emergencies) / max(1, self.non_emergencies)

    @property
    def caution_rate(self) -> float:
        return len(self.cautioned) / max(1, self.non_emergencies)

    @property
    def category_right(self) -> float:
        return self.right / max(1, self.tickets)

    @property
    def ask_rate(self) -> float:
        return self.met[Met.BUTTONS] / max(1, self.tickets)

    def prf(self) -> dict[str, tuple[float, float, float, int]]:
        """Per category: precision, recall, F1 and support of the category decided or guessed."""
        out = {}
        for c in CATEGORIES:
            tp = self.confusion[(c, c)]
            predicted = sum(n for (_, d), n in self.confusion.items() if d == c)
            support = sum(n for (lab, _), n in self.confusion.items() if lab == c)
            p = tp / predicted if predicted else 0.0
            r = tp / support if support else 0.0
            f = 2 * p * r / (p + r) if p + r else 0.0
            out[c] = (p, r, f, support)
        return out


def field_matches(name: str, want: str, got: str | None) -> bool:
    """A clerk would accept ``got`` for ``want``: the same value (a phone: the same digits; an
    address, party or demand: one contains the other and they differ by at most a few characters)."""
    if not got:
        return False
    if name == "phone":  # the same national number: 020-8602 1733 is +86 20 86021733
        w = normalize_phone(want)
        return w is not None and w == normalize_phone(got)
    want, got = normalize(want), normalize(got)  # the product keeps values simplified: 物業 is 物业
    if want == got:
        return True
    if name in ("address", "subject", "demand"):
        short, long_ = sorted((want, got), key=len)
        return short in long_ and len(long_) - len(short) <= max(4, len(want) // 3)
    return False


_FIELDS = {
    "subject": Field.SUBJECT,
    "address": Field.ADDRESS,
    "demand": Field.DEMAND,
    "name": Field.NAME,
    "phone": Field.PHONE,
}


def score(records: Sequence[Record], parts: Callable[[str], Product] = product) -> Report:
    """Every figure of ``records`` (one split), running the product once per record."""
    r = Report()
    for rec in records:
        r.n += 1
        t0 = time.perf_counter()
        out = first_reply(rec, parts)
        r.micros.append((time.perf_counter() - t0) * 1e6)
        if rec.kind == "emergency":
            r.emergencies += 1
            first = rec.numbers[0]
            r.emergency_total[first] += 1
            if out.first_number is not None:
                r.emergency_found[first] += 1
                r.redirected += out.met is Met.EMERGENCY
                if out.first_number == first:
                    r.right_first += 1
                else:
                    named = out.numbers if out.met is Met.EMERGENCY else out.caution
                    r.wrong_first.append(f"{rec.id} wants {first}, got {','.join(named)}")
            else:
                r.missed.append(f"{rec.id} ({out.met}) {rec.text[:60]}")
            continue
        r.non_emergencies += 1
        if out.met is Met.EMERGENCY:
            r.false_emergencies.append(f"{rec.id} [{out.rule}] {rec.text[:60]}")
        elif out.caution:
            r.cautioned.append(f"{rec.id} [{','.join(out.caution)}] {rec.text[:60]}")
        if rec.kind == "out_of_scope":
            reason = rec.reason or "?"
            r.out_of_scope[reason] += 1
            if out.met is Met.REFUSED:
                r.out_of_scope_found[reason] += 1
            else:
                r.out_of_scope_missed.append(f"{rec.id} [{reason} → {out.met}] {rec.text[:60]}")
            continue
        # ticket or kb: what the category measures are about
        r.tickets += 1
        r.met[out.met] += 1
        if out.met is Met.REFUSED:
            r.refused_local.append(f"{rec.id} [{out.rule}] {rec.text[:60]}")
            if out.rule == "out_of_scope.jurisdiction":
                r.other_city_refused_local.append(rec.id)
        label = rec.category or "?"
        decided = out.category if out.met in (Met.TAKEN, Met.CONFIRM, Met.ANSWERED) else None
        if decided is not None and decided in rec.acceptable:
            r.right += 1
            r.confusion[(label, label)] += 1
        else:
            r.confusion[(label, decided or "?")] += 1
            if out.met is not Met.BUTTONS:
                r.wrong.append(f"{rec.id} {label}→{decided or out.met} {rec.text[:60]}")
        if rec.kind == "ticket" and rec.fields:
            _score_fields(r, rec, parts)
        if rec.kind == "ticket":
            _score_talk(r, rec, parts)
    return r


def _score_talk(r: Report, rec: Record, parts: Callable[[str], Product]) -> None:
    talk = converse(rec, parts)
    if talk.turns is None:
        r.no_number.append(f"{rec.id} {rec.category} {rec.text[:60]}")
    else:
        r.turns.append(talk.turns)
    for name in talk.asked_said:
        r.asked_said[name] += 1
        r.asked_said_examples.append(f"{rec.id} {name}={rec.fields[name]!r} {rec.text[:50]}")


def _score_fields(r: Report, rec: Record, parts: Callable[[str], Product]) -> None:
    values = parts(rec.city).understanding.understand(rec.text).values
    for name, want in rec.fields.items():
        f = _FIELDS.get(name)
        if f is None:
            continue
        r.field_total[name] += 1
        if field_matches(name, want, values.get(f)):
            r.field_right[name] += 1


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0
