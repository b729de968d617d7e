"""The profile seen through the dialog's narrow port (``intake.dialog.DialogPolicy``).

The dialog asks five questions of the active policy; this adapter answers them from a loaded
profile and the working-day calendar, so the dialog never reads TOML nor counts days itself.
It satisfies the protocol structurally (no import of intake.dialog: policy stays a leaf).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from intake.model import Category, Channel, Field
from intake.policy.calendar import WorkCalendar
from intake.policy.deadlines import TicketHistory, deadlines
from intake.policy.model import PolicyProfile


class ProfilePolicy:
    """Answers the dialog's questions from ``profile`` and ``calendar``."""

    def __init__(self, profile: PolicyProfile, calendar: WorkCalendar | None = None) -> None:
        self.profile = profile
        self.calendar = calendar or profile.calendar
        self.name = profile.name
        # (category, class, channel, time) -> registration_deadline: one group of dialog turns
        # registers many tickets at one time, mostly of a few categories.
        self._registration_memo: dict[
            tuple[Category, str | None, Channel, dt.datetime], tuple[dt.datetime | None, bool]
        ] = {}

    def categories(self) -> Sequence[Category]:
        return self.profile.categories

    def required_fields(self, category: Category, content: str = "") -> Sequence[Field]:
        """The category template's required fields, then the items a real-name matter that
        ``content`` touches requires (guangzhou §10: the profile's ``[real_name] matters``)."""
        required = list(self.profile.template(category).required)
        matter = self.profile.real_name_matter_for(content) if content else None
        if matter is not None:
            required += [f for f in matter.required if f not in required]
        return tuple(required)

    def has_complex_limit(self, category: str | None, urgent_class: str | None = None) -> bool:
        """Whether a complex matter gets longer here (shaoyang §14.3: 10 WD to handle; quxian
        §11.3: a 7-WD extension): only then may an agent mark a ticket complex."""
        if category not in self.profile.categories:
            return False
        limits = self.profile.limits(Category(category), urgent_class)
        return limits.handling_complex is not None or self.profile.extensions.length_complex is not None

    def real_name_matter(self, text: str) -> str | None:
        """The zh title of the real-name matter ``text`` touches (guangzhou §10), else None."""
        matter = self.profile.real_name_matter_for(text)
        return matter.title if matter else None

    def supplement_window(self, channel: Channel) -> dt.timedelta:
        """How long to wait for missing information (guangzhou §12).

        Online: the notice's window (3 natural days). Phone: the agent's call attempts, each
        ``phone_spacing`` apart, the last one also given ``phone_spacing`` to be answered.
        """
        rules = self.profile.supplement
        if channel.is_online:
            return rules.window
        return rules.phone_spacing * rules.phone_attempts

    def supplements_allowed(self) -> int:
        """Supplements accepted on an online channel before closing (guangzhou §12.2: one)."""
        return self.profile.supplement.max_supplements

    def registration_deadline(
        self, category: Category, urgent_class: str | None, channel: Channel, now: dt.datetime
    ) -> tuple[dt.datetime | None, bool]:
        """The handling deadline a citizen is told at registration, and whether it is provisional.

        The ticket is not dispatched yet, so this is the latest the rules allow: dispatched at the
        end of its dispatch limit (and, where the clock starts on signing, signed at the end of
        the signing limit, shaoyang §13-14). The worker replaces it with the exact value on dispatch.
        """
        key = (category, urgent_class, channel, now)
        found = self._registration_memo.get(key)
        if found is None:
            if len(self._registration_memo) >= 64:  # a group's worth; times move on
                self._registration_memo.clear()
            found = self._registration_memo[key] = self._registration_deadline(*key)
        return found

    def _registration_deadline(
        self, category: Category, urgent_class: str | None, channel: Channel, now: dt.datetime
    ) -> tuple[dt.datetime | None, bool]:
        limits = self.profile.limits(category, urgent_class)
        if limits.handling is None:
            return None, False
        registered = TicketHistory(category, now, channel=channel, urgent_class=urgent_class)
        view = deadlines(registered, self.profile, self.calendar, now)
        dispatch = view.dispatch_deadline or now
        dispatched = TicketHistory(
            category, now, channel=channel, urgent_class=urgent_class, dispatched_at=(dispatch,)
        )
        view2 = deadlines(dispatched, self.profile, self.calendar, now)
        return view2.handling_deadline, view.provisional or view2.provisional

    def rehandling_deadline(
        self, category: str | None, level: str, round_: int, now: dt.datetime
    ) -> dt.datetime | None:
        """The re-handling deadline when this evaluation opens a round, else None.

        A dissatisfied answer (不满意, 非常不满意) in evaluation round ``round_`` opens re-handling
        while ``round_ <= rehandling_rounds`` (guangzhou §29: one round; the second evaluation
        stands). The limit is the profile's (guangzhou §29: same as the original; shaoyang §17:
        5 WD), counted from ``now``. Skip cases (guangzhou §29) are an agent's decision.
        """
        evaluation = self.profile.evaluation
        if category is None or level not in evaluation.dissatisfied_levels:
            return None
        if round_ > evaluation.rehandling_rounds or evaluation.rehandling_limit is None:
            return None
        try:
            cat = Category(category)
        except ValueError:
            return None
        if cat not in self.profile.categories:
            return None
        limits = self.profile.limits(cat)
        if limits.handling is None:
            return None
        history = TicketHistory(cat, now, dispatched_at=(now,), signed_at=now, rehandling_started_at=now)
        return deadlines(history, self.profile, self.calendar, now).handling_deadline
