"""The hotline's indicators (issue 21; huizhou §26, shaoyang §26, guangxi §30): what the centre
reports per day, month, unit, category and channel, worked out from the ticket's own history by
the same deadline function the console shows (intake/policy), never from a second copy.

Definitions (each rate is a fraction 0–1, or None when its denominator is 0):

- ``received``: requests that left the dialog in the period (created in it; a draft still being
  collected is not yet one). ``registered``: those given a ticket number by registration
  (rejected and redirected ones are received, not registered).
- ``dispatch_on_time_rate``: dispatched tickets whose first dispatch came by the profile's
  dispatch limit (guangzhou §13, shaoyang §13, guangxi §25).
- ``on_time_rate``: tickets with a result whose first result came by the handling deadline in
  force then (extensions counted; praise, read and closed, has none and is left out).
- ``extension_rate``: dispatched tickets extended at least once.
- ``rehandling_rate``: tickets with a result that went back for re-handling.
- ``satisfaction_rate`` as the profile defines it: the standing evaluation (the last round's:
  guangzhou §29, huizhou §25) is 非常满意, 满意 or 基本满意, over tickets with a standing
  evaluation. Silence counts as the profile says (guangxi §27.2: satisfied; guangzhou §27.3:
  not evaluated, so not counted); an answer outside the options is not counted; a dissatisfied
  evaluation whose 甄别 was upheld is left out altogether (shaoyang §25: 不计入回访不满意评价;
  quxian §12.1).
- No assessment score: guangxi §30 scores units out of 100 by rules set each year (§31), and
  none of the five regulations gives the formula; the counts it would use are here.

The CSV carries one row per ticket and no personal data: no name, phone, address, content or
free text of any kind, only numbers, codes, units and times.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol
from xml.sax.saxutils import escape

from intake.errors import InvalidInput
from intake.model import SHANGHAI, StoredEvent, StoredTicket
from intake.policy import DeadlineView
from intake.store.reports import ReportTicket

SATISFIED = ("非常满意", "满意", "基本满意")
MAX_DAYS = 366
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2100, 12, 31)  # no calendar maths overflows inside


class ReportPolicy(Protocol):
    def view(
        self, ticket: StoredTicket, events: Sequence[StoredEvent], now: dt.datetime
    ) -> DeadlineView | None: ...


@dataclass(frozen=True, slots=True)
class Facts:
    """One ticket as the indicators count it (and as the CSV shows it)."""

    number: str
    created_at: str
    day: str
    month: str
    channel: str
    category: str
    urgent_class: str
    unit: str
    status: str
    registered: bool
    dispatched_at: str
    dispatched_on_time: bool | None
    completed_at: str
    deadline_at_completion: str
    finished_on_time: bool | None
    extensions: int
    rehandled: bool
    evaluation: str
    evaluation_source: str
    satisfied: bool | None  # None: no standing evaluation, or an upheld objection took it out
    objection: str  # "", "pending", "upheld", "rejected"
    supervised: bool
    supervision_by: str
    yellow: bool
    red: bool


def period(start: str | None, end: str | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """``from`` and ``to`` (YYYY-MM-DD, both days included); by default this month so far."""
    try:  # absent: the default; given, even empty, it must be a date
        first = dt.date.fromisoformat(start) if start is not None else today.replace(day=1)
        last = dt.date.fromisoformat(end) if end is not None else today
    except ValueError:
        raise InvalidInput(
            "from 和 to 应为 YYYY-MM-DD 格式的日期。'from' and 'to' must be YYYY-MM-DD."
        ) from None
    if not (first >= EARLIEST and last <= LATEST):
        raise InvalidInput("日期应在 2000 年至 2100 年之间。Dates must be within 2000-2100.")
    if last < first:
        raise InvalidInput("to 不能早于 from。'to' must not be before 'from'.")
    if (last - first).days >= MAX_DAYS:
        raise InvalidInput(f"一次最多统计 {MAX_DAYS} 天。At most {MAX_DAYS} days at a time.")
    return first, last


def bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The period as instants: from 00:00 of ``first`` to 00:00 after ``last``, Asia/Shanghai."""
    start = dt.datetime.combine(first, dt.time(), SHANGHAI)
    return start, dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), SHANGHAI)


def _iso(at: dt.datetime | None) -> str:
    return at.astimezone(SHANGHAI).isoformat(timespec="seconds") if at else ""


def facts_of(rt: ReportTicket, policy: ReportPolicy) -> Facts:
    t, events = rt.ticket, list(rt.events)
    dispatches = [e for e in events if e.type == "dispatched"]
    first_result = next((i for i, e in enumerate(events) if e.type == "completed"), None)
    dispatched_on_time = finished_on_time = None
    deadline_then: dt.datetime | None = None
    if dispatches and t.registered_at is not None:
        before = policy.view(t, [], t.registered_at)
        limit = before.dispatch_deadline if before else None
        dispatched_on_time = None if limit is None else dispatches[0].at <= limit
    if first_result is not None:
        done = events[first_result]
        then = policy.view(t, events[:first_result], done.at)
        deadline_then = then.handling_deadline if then else None
        finished_on_time = None if deadline_then is None else done.at <= deadline_then
    standing = rt.evaluations[-1] if rt.evaluations else None
    # 甄别 of the standing evaluation's round only: an objection upheld against round 1 leaves
    # the citizen's second answer counted (guangzhou §29: the second evaluation stands)
    contested = [
        e
        for e in events
        if e.type in ("review_requested", "review_decided")
        and e.data.get("kind") == "objection"
        and standing is not None
        and e.data.get("round") == standing.round
    ]
    decided = [e for e in contested if e.type == "review_decided"]
    objection = str(decided[-1].data.get("decision", "")) if decided else ("pending" if contested else "")
    level = standing.level if standing is not None else None
    satisfied = None if level is None or objection == "upheld" else level in SATISFIED
    local = t.created_at.astimezone(SHANGHAI)
    unit = str(dispatches[-1].data.get("unit") or "") if dispatches else ""
    return Facts(
        number=t.number or "",
        created_at=_iso(t.created_at),
        day=local.date().isoformat(),
        month=local.strftime("%Y-%m"),
        channel=t.channel.value,
        category=t.category or "",
        urgent_class=t.urgent_class or "",
        unit=unit or t.unit or "",
        status=t.status.value,
        registered=t.registered_at is not None,
        dispatched_at=_iso(dispatches[0].at) if dispatches else "",
        dispatched_on_time=dispatched_on_time,
        completed_at=_iso(events[first_result].at) if first_result is not None else "",
        deadline_at_completion=_iso(deadline_then),
        finished_on_time=finished_on_time,
        extensions=sum(1 for e in events if e.type == "extension_approved"),
        rehandled=any(e.type == "rehandling" for e in events),
        evaluation=level or "",
        evaluation_source=standing.source if standing is not None else "",
        satisfied=satisfied,
        objection=objection,
        supervised=t.supervision is not None,
        supervision_by=("system" if t.supervision.by == "system" else "agent") if t.supervision else "",
        yellow=any(e.type == "warning" and e.data.get("level") == "yellow" for e in events),
        red=any(e.type == "warning" and e.data.get("level") == "red" for e in events),
    )


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def indicators_of(rows: Sequence[Facts]) -> dict[str, Any]:
    """The counts and rates of one group of tickets (module docstring)."""
    dispatched = [f for f in rows if f.dispatched_at]
    timed_dispatch = [f for f in dispatched if f.dispatched_on_time is not None]
    finished = [f for f in rows if f.completed_at]
    timed = [f for f in finished if f.finished_on_time is not None]
    evaluated = [f for f in rows if f.satisfied is not None]
    count = {
        "received": len(rows),
        "registered": sum(f.registered for f in rows),
        "dispatched": len(dispatched),
        "dispatched_on_time": sum(bool(f.dispatched_on_time) for f in timed_dispatch),
        "finished": len(finished),
        "finished_on_time": sum(bool(f.finished_on_time) for f in timed),
        "extended": sum(f.extensions > 0 for f in dispatched),
        "rehandled": sum(f.rehandled for f in finished),
        "evaluated": len(evaluated),
        "satisfied": sum(bool(f.satisfied) for f in evaluated),
        "objections": sum(f.objection != "" for f in rows),
        "objections_upheld": sum(f.objection == "upheld" for f in rows),
        "supervised": sum(f.supervised for f in rows),
        "warnings_yellow": sum(f.yellow for f in rows),
        "warnings_red": sum(f.red for f in rows),
    }
    return {
        **count,
        "dispatch_on_time_rate": _rate(count["dispatched_on_time"], len(timed_dispatch)),
        "on_time_rate": _rate(count["finished_on_time"], len(timed)),
        "extension_rate": _rate(count["extended"], len(dispatched)),
        "rehandling_rate": _rate(count["rehandled"], len(finished)),
        "satisfaction_rate": _rate(count["satisfied"], len(evaluated)),
    }


def _grouped(rows: Iterable[Facts], key: Callable[[Facts], str]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Facts]] = defaultdict(list)
    for f in rows:
        groups[key(f) or "—"].append(f)
    return {name: indicators_of(group) for name, group in sorted(groups.items())}


def report(rows: Sequence[Facts], first: dt.date, last: dt.date, profile: str) -> dict[str, Any]:
    """``GET /api/reports/indicators``: the period's indicators, then the same per category,
    channel, unit, day and month."""
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "profile": profile,
        **indicators_of(rows),
        "by_category": _grouped(rows, lambda f: f.category),
        "by_channel": _grouped(rows, lambda f: f.channel),
        "by_unit": _grouped((f for f in rows if f.unit), lambda f: f.unit),
        "by_day": _grouped(rows, lambda f: f.day),
        "by_month": _grouped(rows, lambda f: f.month),
    }


CSV_COLUMNS = tuple(name for name in Facts.__dataclass_fields__ if name not in ("day", "month"))


def csv_text(rows: Iterable[Facts]) -> str:
    """One row per ticket, no personal data (module docstring); booleans as 1/0, unknown empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for f in rows:
        values = asdict(f)
        writer.writerow(
            [
                "" if values[c] is None else int(values[c]) if isinstance(values[c], bool) else values[c]
                for c in CSV_COLUMNS
            ]
        )
    return out.getvalue()


_SVG_STYLE = (
    "text{font:11px sans-serif;fill:#333}.r{fill:#3b6fb6}.f{fill:#7fb069}"
    ".l{fill:none;stroke:#d9822b;stroke-width:2}"
)


def _tag(name: str, body: str | None = None, **attrs: object) -> str:
    """One SVG element; attribute names with ``_`` are written with ``-``, values escaped."""
    text = " ".join(
        f'{k.rstrip("_").replace("_", "-")}="{escape(str(v), {chr(34): "&quot;"})}"' for k, v in attrs.items()
    )
    return f"<{name} {text}/>" if body is None else f"<{name} {text}>{body}</{name}>"


def daily_svg(by_day: dict[str, dict[str, Any]], first: dt.date, last: dt.date) -> str:
    """A bar chart of received and finished tickets per day with the on-time rate as a line:
    server-rendered SVG, no script and no library (issue 21)."""
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    series = [by_day.get(d.isoformat(), {}) for d in days]
    top = max([1, *(int(s.get("received", 0)) for s in series), *(int(s.get("finished", 0)) for s in series)])
    width, height, left, right, top_pad, bottom = max(360, 28 * len(days) + 90), 260, 44, 46, 30, 40
    plot_w, plot_h = width - left - right, height - bottom - top_pad
    base = top_pad + plot_h
    step = plot_w / len(days)
    bar = max(2.0, step * 0.36)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="每日受理、办结与按时办结率">',
        f"<style>{_SVG_STYLE}</style>",
        _tag("text", "每日受理（蓝）、办结（绿）与按时办结率（橙线）", x=left, y=16),
        _tag("line", x1=left, y1=base, x2=left + plot_w, y2=base, stroke="#999"),
        _tag("text", str(top), x=left - 6, y=top_pad + 4, text_anchor="end"),
        _tag("text", "0", x=left - 6, y=base, text_anchor="end"),
        _tag("text", "100%", x=left + plot_w + 6, y=top_pad + 4),
    ]
    points = []
    label_every = 1 if len(days) <= 16 else max(1, len(days) // 12)
    for i, (day, s) in enumerate(zip(days, series, strict=True)):
        x = left + i * step + step / 2
        for j, (name, cls) in enumerate((("received", "r"), ("finished", "f"))):
            value = int(s.get(name, 0))
            h = plot_h * value / top
            title = _tag("title", f"{day.isoformat()} {name} {value}", lang="en")
            parts.append(
                _tag(
                    "rect",
                    title,
                    class_=cls,
                    x=f"{x - bar + j * bar:.1f}",
                    y=f"{base - h:.1f}",
                    width=f"{bar:.1f}",
                    height=f"{h:.1f}",
                )
            )
        rate = s.get("on_time_rate")
        if rate is not None:
            points.append(f"{x:.1f},{top_pad + plot_h * (1 - float(rate)):.1f}")
        if i % label_every == 0:
            parts.append(
                _tag("text", f"{day.month}/{day.day}", x=f"{x:.1f}", y=base + 16, text_anchor="middle")
            )
    if points:
        parts.append(_tag("polyline", class_="l", points=" ".join(points)))
    parts.append("</svg>")
    return "".join(parts)
