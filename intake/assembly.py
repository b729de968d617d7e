"""Wiring the domain for a process: the active profile, text understanding, screening, the
services. Built once per process from the Runtime (ARCHITECTURE.md "composition root")."""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from intake.clusters import Clusters
from intake.dialog import KnowledgeHit, ScreenOutcome
from intake.duties import Duties
from intake.errors import ConfigError, Conflict
from intake.evaluation import parse_evaluation_with_ref
from intake.events import EventService
from intake.extract import warm_up
from intake.guard import SenderGuard
from intake.history import history_of
from intake.kb import KnowledgeBase
from intake.kb.text import normalize
from intake.model import StoredEvent, StoredTicket
from intake.phone import PhoneIntake
from intake.policy import DeadlineView, PolicyProfile, ProfilePolicy, check_extension, deadlines, load_profile
from intake.principals import Principals
from intake.routing import Router
from intake.runtime import Runtime
from intake.screening import Jurisdiction, Screener, ScreenKind
from intake.service import IntakeService
from intake.states import DialogStates
from intake.store.sql import SqlStore
from intake.textmodel import TextModel
from intake.turn import TurnTaker
from intake.understanding import ExtractUnderstanding


class HotlinePolicy(ProfilePolicy):
    """The profile answering the dialog's and the back office's questions."""

    def __init__(self, profile: PolicyProfile, store: SqlStore) -> None:
        super().__init__(profile)
        self.store = store

    def check_extension(self, ticket: StoredTicket, new_deadline: dt.datetime, now: dt.datetime) -> None:
        history = history_of(ticket, self.store.events(ticket.id))
        if history is None:
            raise Conflict("the ticket is not registered yet")
        check_extension(history, self.profile, self.calendar, new_deadline, now=now)

    def evaluation_window_end(self, ticket: StoredTicket, completed_at: dt.datetime) -> dt.datetime | None:
        """The prompt goes out at once (≤ delay_max after approval); the reply window runs from
        then (guangzhou §27-28: 5 natural days; guangxi §27.2: 24 h)."""
        return completed_at + self.profile.evaluation.reply_window

    def view(
        self, ticket: StoredTicket, events: Sequence[StoredEvent], now: dt.datetime
    ) -> DeadlineView | None:
        """The one pure deadline function over this ticket's history (issue 3): what the API,
        the console and the worker's sweeps show."""
        history = history_of(ticket, events)
        if history is None or history.category not in self.profile.categories:
            return None
        return deadlines(history, self.profile, self.calendar, now)

    @property
    def silence_means(self) -> str:
        return self.profile.evaluation.silence_means


class EvaluationReplies:
    """The satisfaction reply parser seen through the dialog's port."""

    def parse(self, text: str) -> tuple[str | None, str | None]:
        ref, level = parse_evaluation_with_ref(text)
        return ref, (level.value if level is not None else None)


class ScreeningPort:
    """The screener's decisions in the dialog's vocabulary, with the profile's urgent class
    (huizhou §13.3, shaoyang §20, guangxi §26.2.7, quxian §11.4): chat and phone tickets alike
    are put in it by ``urgent_class_of``."""

    def __init__(self, screener: Screener, profile: PolicyProfile) -> None:
        self.screener = screener
        self.profile = profile
        known = {r.urgent_kind for r in screener.rules(ScreenKind.URGENT)}
        for urgent in profile.urgent_classes:
            unknown = sorted(set(urgent.kinds) - known)
            if unknown:
                raise ConfigError(
                    f"{profile.path or profile.name}: urgent.{urgent.key}.kinds: {unknown} are no urgent "
                    f"kind of the screening rules ({', '.join(sorted(k for k in known if k))})"
                )

    def urgent_class(self, text: str, kind: str | None = None) -> str | None:
        """The first of the profile's classes whose own words name the matter (huizhou's 重大
        before its 一般), else the first taking the screening's urgent ``kind``; a class whose
        ``unless`` the text meets (the matter over, a question about it, an outage announced
        ahead) is never chosen. None when the city has no class for it: guangzhou §14.3 names
        none, and an ordinary 停水 is not quxian §11.4's 大面积停水."""
        clean = normalize(text)
        classes = [u for u in self.profile.urgent_classes if not u.ruled_out(clean)]
        named = next((u.key for u in classes if u.names(clean)), None)
        if named is not None or kind is None:
            return named
        return next((u.key for u in classes if kind in u.kinds), None)

    def urgent_class_of(self, text: str) -> str | None:
        """The urgent class of a matter told in ``text``, by its words and the kind screening
        finds in it: what a chat ticket and a phone ticket (intake.phone) are registered under."""
        decision = self.screener.screen(text)
        return self.urgent_class(text, decision.urgent_kind if decision is not None else None)

    def screen(self, text: str) -> ScreenOutcome | None:
        d = self.screener.screen(text)  # once: urgent_class_of would screen the text again
        urgent = self.urgent_class(text, d.urgent_kind if d is not None else None)
        if d is None:
            # No screening rule fired, but the profile's words name one of its classes (shaoyang
            # §20's 油烟、噪音): an ordinary request, registered in that class.
            if urgent is None:
                return None
            return ScreenOutcome(
                kind=str(ScreenKind.URGENT),
                rule_id=f"{self.profile.name}.urgent.{urgent}",
                reply="",
                urgent_class=urgent,
            )
        return ScreenOutcome(
            kind=str(d.kind),
            rule_id=d.rule_id,
            reply=d.reply,
            status=d.status,
            urgent_class=urgent,
            caution=d.caution or (d.reply if d.kind is ScreenKind.CAUTION else ""),
        )

    def is_repeat(self, new_text: str, earlier_text: str) -> bool:
        """The same matter as a handled one, with no new facts (guangzhou §24, shaoyang §10.4)."""
        return self.screener.is_repeat(new_text, earlier_text)


class KnowledgePort:
    """The knowledge base seen through the dialog's port: only confident, valid answers."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    def answer(self, text: str, now: dt.datetime) -> KnowledgeHit | None:
        found = self.kb.answer(text, now)
        return KnowledgeHit(found.entry_id, found.answer) if found is not None else None


@dataclass(frozen=True)
class Services:
    policy: HotlinePolicy
    intake: IntakeService
    events: EventService
    phone: PhoneIntake
    principals: Principals
    duties: Duties


JURISDICTIONS = Path(__file__).resolve().parent / "data" / "jurisdictions.toml"


def jurisdiction_of(profile: str) -> Jurisdiction | None:
    """The city and districts of a profile (intake/data/jurisdictions.toml); None: rule off."""
    try:
        data = tomllib.loads(JURISDICTIONS.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{JURISDICTIONS}: {exc}") from None
    entry = data.get(profile)
    if entry is None:
        return None
    return Jurisdiction(
        str(entry["city"]), tuple(str(d) for d in entry.get("districts", ())), str(entry.get("code", ""))
    )


def screener_for(profile: PolicyProfile, model: TextModel | None = None) -> Screener:
    """The shipped screening rules and text model (or ``model``) with the profile's city and
    psychological line."""
    return Screener.from_file(
        None,
        jurisdiction=jurisdiction_of(profile.name),
        model=model or True,
        psychological=(profile.emergency.psychological, profile.emergency.psychological_label),
    )


def build_services(runtime: Runtime) -> Services:
    warm_up()
    profile = load_profile(
        runtime.settings.policy,
        calendar_overrides=runtime.settings.holidays_dir,
        calendar_check_every=runtime.settings.holidays_check_seconds,
    )
    policy = HotlinePolicy(profile, runtime.store)
    duties = Duties(runtime.store, policy, Router.load().duty_phones)
    screening = ScreeningPort(screener_for(profile), profile)
    turn = TurnTaker(
        runtime.store,
        policy,
        ExtractUnderstanding(),
        runtime.clock,
        screening=screening,
        evaluations=EvaluationReplies(),
        knowledge=KnowledgePort(KnowledgeBase.load()),
        repeats=screening,
        guard=SenderGuard(
            runtime.store,
            runtime.redis,
            profile.harassment_restriction_days,
            per_minute=runtime.settings.rate_per_minute,
        ),
        clusters=Clusters(runtime.store),
        duties=duties,
    )
    intake = IntakeService(DialogStates(runtime.redis, runtime.store), turn)
    return Services(
        policy=policy,
        intake=intake,
        events=EventService(runtime.store, policy, duties),
        phone=PhoneIntake(runtime.store, policy, screening, profile.supplement),
        principals=Principals(runtime.store),
        duties=duties,
    )
