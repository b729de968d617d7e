"""deliver(outbound_id): the outbound row exists before any send; senders raise a classified
error and this decides retry, failed or uncertain, recording state and the last error.

A row is claimed (state ``sending`` with a lease) before the provider is called, so two workers
never both send it. A claim that outlives its lease means its worker stopped; what it got to is
in the :class:`SendLog` (Redis), written before each hand-over: a row it never handed to the
provider goes back to pending, one the provider took is delivered, and only the one it handed
over without an answer becomes ``uncertain`` (an agent checks), never sent again by itself.
Providers that take an idempotency key get the row's (SMS ``out_id``, Telegram)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

import redis

from channels.email import EmailSender
from channels.sms import sms_provider
from channels.webchat import WebchatSender
from intake.errors import PermanentFailure, RetryLater, Uncertain
from intake.model import Address, Channel, DeliveryState, Field, StoredOutbound
from intake.runtime import Runtime
from intake.settings import Settings

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
# How long one send may take before its claim lapses (HOTLINE_DELIVERY_LEASE_SECONDS, 120 s by
# default): longer than any provider's timeout (the SMS platform's 10 s, SMTP's and Telegram's
# 30 s) with room to spare. LEASE is the default, for tests that move a clock past it.
LEASE = timedelta(seconds=Settings.delivery_lease_seconds)
# A group's claim covers all its rows: none is handed over this close to the lease's end, so
# every hand-over has ended (provider timeouts are 30 s at most) before the claim can lapse and
# the rows still ``claimed`` go to another worker.
HAND_OVER_MARGIN = timedelta(seconds=45)


class SendLog:
    """What each claimed row got to, kept in Redis beside the SQL claim: ``claimed`` when the
    group is claimed (one pipeline), ``handed`` before the provider is called, ``accepted`` once it
    took the message (written with the next row's ``handed``: one round trip per message).

    Only ``claimed`` lets a lapsed row be sent again: a key that is missing (Redis lost it, or was
    unreachable when it was written) or says ``handed`` leaves the row uncertain, so no Redis
    failure makes a message go out twice. The one exception is a crash of the whole machine
    within Redis's fsync interval (appendfsync everysec), which can lose the last ``handed``.
    """

    TTL = 86_400  # longer than any lease; after it, a missing key means uncertain

    def __init__(self, r: redis.Redis) -> None:
        self.redis = r
        self.accepted: list[int] = []

    @staticmethod
    def key(outbound_id: int) -> str:
        return f"hotline:send:{outbound_id}"

    def _set(self, marks: list[tuple[int, str]]) -> None:
        try:
            pipe = self.redis.pipeline(transaction=False)
            for oid, mark in marks:
                pipe.set(self.key(oid), mark, ex=self.TTL)
            pipe.execute()
        except redis.RedisError as exc:  # a missing mark only ever means uncertain
            log.warning("send log not written (%s): a lapse would leave these rows uncertain", exc)

    def claimed(self, ids: Sequence[int] | set[int]) -> None:
        self._set([(oid, "claimed") for oid in ids])

    def handing(self, outbound_id: int) -> None:
        marks = [(oid, "accepted") for oid in self.accepted] + [(outbound_id, "handed")]
        self.accepted.clear()
        self._set(marks)

    def took(self, outbound_id: int) -> None:
        self.accepted.append(outbound_id)

    def flush(self) -> None:
        if self.accepted:
            self._set([(oid, "accepted") for oid in self.accepted])
            self.accepted.clear()

    def marks(self, ids: Sequence[int]) -> list[str | None]:
        raw = self.redis.mget([self.key(oid) for oid in ids])
        return [v.decode() if isinstance(v, bytes) else v for v in raw]


def settle_lapsed(runtime: Runtime, outbound_id: int | None = None) -> int:
    """Claims whose worker stopped (all, or ``outbound_id``'s), settled by the send log: never
    handed over → pending again; accepted → delivered; anything else → uncertain. Left for the
    next sweep while Redis does not answer. Returns how many were settled."""
    store = runtime.store
    ids = store.lapsed_claims(outbound_id)
    if not ids:
        return 0
    try:
        marks = SendLog(runtime.redis).marks(ids)
    except redis.RedisError:
        log.warning("%d lapsed claims wait for Redis to say what became of them", len(ids))
        return 0
    settled: dict[str, list[int]] = {"claimed": [], "accepted": [], "uncertain": []}
    for oid, mark in zip(ids, marks, strict=True):
        settled[mark if mark in ("claimed", "accepted") else "uncertain"].append(oid)
    released, delivered, uncertain = settled["claimed"], settled["accepted"], settled["uncertain"]
    store.settle_lapsed(delivered=delivered, released=released, uncertain=uncertain)
    if uncertain:
        log.warning("%d deliveries uncertain: their worker stopped mid-send", len(uncertain))
    return len(ids)


def lease(runtime: Runtime) -> timedelta:
    return timedelta(seconds=runtime.settings.delivery_lease_seconds)


class Sender(Protocol):
    def send(self, m: StoredOutbound) -> None: ...


_senders: dict[int, tuple[Runtime, dict[Channel, Sender]]] = {}


def senders_for(runtime: Runtime) -> dict[Channel, Sender]:
    """One set of senders per runtime (per process): the Telegram bot and its pacing are shared.

    Keyed by ``id(runtime)`` but checked by identity, so a later runtime that happens to get a
    dead one's id (tests build many) never inherits its relay or SMS provider."""
    found = _senders.get(id(runtime))
    if found is not None and found[0] is runtime:
        return found[1]
    sms = sms_provider(runtime.settings)  # HOTLINE_SMS: the stub or an HTTP platform
    senders: dict[Channel, Sender] = {
        Channel.WEBCHAT: WebchatSender(runtime.redis, runtime.store),
        Channel.SMS: sms,
        Channel.PHONE: sms,  # phone callers hear back by SMS
        Channel.EMAIL: EmailSender(
            runtime.store,
            runtime.settings.mailbox,
            runtime.settings.smtp_relay,
            signature=runtime.settings.hotline_name,
        ),
    }
    settings = runtime.settings
    if settings.telegram_token:
        from notifier.telegram_bridge import SyncTelegramSender

        senders[Channel.TELEGRAM] = SyncTelegramSender(settings.telegram_token, settings.telegram_api_base)
    _senders[id(runtime)] = (runtime, senders)
    return senders


def deliver_outbound(runtime: Runtime, outbound_id: int, senders: dict[Channel, Sender] | None = None) -> str:
    store = runtime.store
    m = store.get_outbound(outbound_id)
    if m.state is DeliveryState.SENDING:
        # Another worker has it (this job ran twice), or had it and stopped mid-send: a lapsed
        # claim is settled by the send log; a live one is left to its worker (this job comes back).
        settle_lapsed(runtime, m.id)
        now_state = store.get_outbound(m.id).state
        if now_state is DeliveryState.PENDING:
            return deliver_outbound(runtime, m.id, senders)  # never handed over: send it now
        return "retry" if now_state is DeliveryState.SENDING else now_state.value
    if m.state is not DeliveryState.PENDING:
        return m.state.value  # settled by an earlier run: never delivered twice
    if m.next_attempt_at is not None and m.next_attempt_at > runtime.clock.now():
        return "retry"  # not before the provider allows it (e.g. inside a 429's retry_after)
    sender = (senders or senders_for(runtime)).get(m.address.channel)
    if sender is None:
        store.mark_delivery(m.id, DeliveryState.FAILED, error=f"no sender for {m.address.channel}")
        return "failed"
    if not store.claim_delivery(m.id, runtime.clock.now() + lease(runtime)):
        return "retry"  # another worker claimed it a moment ago
    result = _send_claimed(runtime, m, sender, SendLog(runtime.redis))
    if result == "delivered":
        store.mark_delivery(m.id, DeliveryState.DELIVERED)
    return result


def deliver_many(
    runtime: Runtime, outbound_ids: Sequence[int], senders: dict[Channel, Sender] | None = None
) -> dict[int, str | Exception]:
    """Several deliveries of one worker job: claimed in one statement, sent one by one, the
    delivered ones recorded in one transaction (each write is a disk flush with SQLite's FULL
    sync). A row not claimed here (settled, not due, held by another worker, lapsed) takes
    ``deliver_outbound``'s path. An unexpected error leaves its row claimed: it lapses to
    uncertain, since whether it left is unknown; a kill leaves the rows not yet handed over
    ``claimed`` in the send log, and they go out again when their claims lapse."""
    store = runtime.store
    table = senders or senders_for(runtime)
    lease_until = runtime.clock.now() + lease(runtime)
    claimed = store.claim_deliveries(outbound_ids, lease_until)
    sends = SendLog(runtime.redis)
    sends.claimed(claimed)
    out: dict[int, str | Exception] = {}
    delivered: list[int] = []
    for oid in outbound_ids:
        try:
            if oid not in claimed:
                out[oid] = deliver_outbound(runtime, oid, table)
                continue
            if runtime.clock.now() > lease_until - HAND_OVER_MARGIN:
                out[oid] = "retry"  # left claimed: sent by whoever settles the lapsed claim
                continue
            m = store.get_outbound(oid)
            sender = table.get(m.address.channel)
            if sender is None:
                store.mark_delivery(m.id, DeliveryState.FAILED, error=f"no sender for {m.address.channel}")
                out[oid] = "failed"
                continue
            out[oid] = _send_claimed(runtime, m, sender, sends)
            if out[oid] == "delivered":
                delivered.append(oid)
        except Exception as exc:  # one bad message must not hold up the others
            log.warning("delivery %s failed: %s", oid, exc)
            out[oid] = exc
    sends.flush()
    store.mark_delivered_many(delivered)
    return out


def _send_claimed(runtime: Runtime, m: StoredOutbound, sender: Sender, sends: SendLog) -> str:
    """Send a row this worker has claimed; every outcome but success is recorded here (the
    caller records a success, alone or with others)."""
    store = runtime.store
    sends.handing(m.id)
    try:
        sender.send(m)
    except RetryLater as exc:
        if m.attempts + 1 >= MAX_ATTEMPTS:
            store.mark_delivery(m.id, DeliveryState.FAILED, error=f"gave up: {exc.message}")
            sms_fallback(runtime, m)
            return "failed"
        retry_at = runtime.clock.now() + timedelta(seconds=exc.after)
        store.mark_delivery(m.id, DeliveryState.PENDING, error=exc.message, retry_at=retry_at)
        return "retry"
    except PermanentFailure as exc:
        store.mark_delivery(m.id, DeliveryState.FAILED, error=exc.message)
        sms_fallback(runtime, m)
        return "failed"
    except Uncertain as exc:
        store.mark_delivery(m.id, DeliveryState.UNCERTAIN, error=exc.message)
        return "uncertain"
    sends.took(m.id)
    return "delivered"


def sms_fallback(runtime: Runtime, m: StoredOutbound) -> int | None:
    """When a channel cannot deliver, the same message by SMS to the phone the citizen gave —
    never for an anonymous citizen or a hidden number (issue 6). Returns the SMS row's id."""
    if m.ticket_id is None or m.address.channel.carries_phone:
        return None
    store = runtime.store
    t = store.get_ticket(m.ticket_id)
    phone = t.contact.get(Field.PHONE)
    if t.anonymous or not phone or Field.PHONE in t.hidden:
        return None
    oid, _ = store.record_outbound(
        Address(Channel.SMS, phone), m.text, key=f"{m.idempotency_key}:sms", kind=m.kind, ticket_id=t.id
    )
    return oid
