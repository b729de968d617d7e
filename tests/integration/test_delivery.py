"""Delivery (issue 6): retried with backoff, failed for agents to see, SMS as the fallback when a
channel cannot deliver — never for an anonymous citizen or a hidden number."""

from __future__ import annotations

from intake.clock import ManualClock
from intake.errors import PermanentFailure, RetryLater, Uncertain
from intake.model import Address, Channel, DeliveryState, Field, StoredOutbound, TicketDraft
from intake.runtime import Runtime
from notifier.deliver import MAX_ATTEMPTS, deliver_outbound, senders_for

MAIL = Address(Channel.EMAIL, "citizen@example.cn")


class Refusing:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def send(self, m: StoredOutbound) -> None:
        self.calls += 1
        raise self.error


def _ticket(runtime: Runtime, **kw: object) -> int:
    draft = TicketDraft(
        Channel.EMAIL, MAIL, "guangzhou", category="求助", values={Field.PHONE: "+8613800138000"}
    )
    for k, v in kw.items():
        setattr(draft, k, v)
    tid = runtime.store.create_ticket(draft)
    runtime.store.register(tid, deadline=None, deadline_provisional=False)
    return tid


def _sms(runtime: Runtime) -> list[StoredOutbound]:
    return runtime.store.outbound_for(Address(Channel.SMS, "+8613800138000"))


def test_a_bounced_mail_goes_again_by_sms(runtime: Runtime) -> None:
    tid = _ticket(runtime)
    oid, _ = runtime.store.record_outbound(MAIL, "您的工单已办结", key="n:1", kind="completed", ticket_id=tid)
    senders = {**senders_for(runtime), Channel.EMAIL: Refusing(PermanentFailure("550 no such user"))}
    assert deliver_outbound(runtime, oid, senders) == "failed"
    assert runtime.store.get_outbound(oid).last_error == "550 no such user"
    [sms] = _sms(runtime)
    assert sms.text == "您的工单已办结" and sms.idempotency_key == "n:1:sms"
    assert deliver_outbound(runtime, oid, senders) == "failed"  # settled: nothing sent, no second SMS
    assert len(_sms(runtime)) == 1


def test_no_fallback_for_an_anonymous_citizen_or_a_hidden_phone(runtime: Runtime) -> None:
    anonymous = _ticket(runtime, anonymous=True)
    hidden = _ticket(runtime, hidden=frozenset({Field.PHONE}))
    senders = {**senders_for(runtime), Channel.EMAIL: Refusing(PermanentFailure("blocked"))}
    for i, tid in enumerate((anonymous, hidden)):
        oid, _ = runtime.store.record_outbound(MAIL, "通知", key=f"a:{i}", kind="notice", ticket_id=tid)
        assert deliver_outbound(runtime, oid, senders) == "failed"
    assert _sms(runtime) == []


def test_retries_back_off_then_fail_for_agents(runtime: Runtime, clock: ManualClock) -> None:
    tid = _ticket(runtime, anonymous=True)
    oid, _ = runtime.store.record_outbound(MAIL, "通知", key="r:1", kind="notice", ticket_id=tid)
    refusing = Refusing(RetryLater("relay down", after=120))
    senders = {**senders_for(runtime), Channel.EMAIL: refusing}
    assert deliver_outbound(runtime, oid, senders) == "retry"
    assert deliver_outbound(runtime, oid, senders) == "retry"  # too early: not even tried
    assert refusing.calls == 1
    for _ in range(MAX_ATTEMPTS - 1):
        clock.advance(121)
        deliver_outbound(runtime, oid, senders)
    out = runtime.store.get_outbound(oid)
    assert out.state is DeliveryState.FAILED and out.last_error is not None
    assert out in runtime.store.outbound_by_state(DeliveryState.FAILED)


def test_an_ambiguous_timeout_is_uncertain_and_never_resent(runtime: Runtime) -> None:
    tid = _ticket(runtime)
    oid, _ = runtime.store.record_outbound(MAIL, "通知", key="u:1", kind="notice", ticket_id=tid)
    refusing = Refusing(Uncertain("read timeout after the request left"))
    senders = {**senders_for(runtime), Channel.EMAIL: refusing}
    assert deliver_outbound(runtime, oid, senders) == "uncertain"
    assert deliver_outbound(runtime, oid, senders) == "uncertain"
    assert refusing.calls == 1
    assert _sms(runtime) == []  # it may have arrived: no copy by SMS either


class Killed(BaseException):
    """The worker process dying mid-group: nothing in deliver_many catches it."""


class Counting:
    """The provider: what it received, in order; it dies (as the worker would) on call ``die_at``."""

    def __init__(self, die_at: int | None = None, clock: ManualClock | None = None, slow: int = 0) -> None:
        self.received: list[str] = []
        self.die_at = die_at
        self.clock = clock
        self.slow = slow

    def send(self, m: StoredOutbound) -> None:
        self.received.append(m.idempotency_key)
        if self.clock is not None:
            self.clock.advance(self.slow)  # a slow provider: each send takes this long
        if len(self.received) == self.die_at:
            raise Killed


def _group(runtime: Runtime, n: int, prefix: str) -> list[int]:
    ids = []
    with runtime.store.tx():
        for i in range(n):
            oid, _ = runtime.store.record_outbound(
                Address(Channel.EMAIL, f"c{i}@example.cn"), "通知", key=f"{prefix}:{i}", kind="notice"
            )
            ids.append(oid)
    return ids


def test_a_worker_killed_mid_group_strands_only_the_message_in_flight(
    runtime: Runtime, clock: ManualClock
) -> None:
    """Issue 18 / RELIABILITY.md Q2: a group of ten is claimed; the worker dies while the provider
    holds the third. Once the claim lapses, the two it sent are delivered, the third is uncertain
    for an agent, and the seven it never handed over go out with the next worker: every message
    reached the provider once, none twice, none stranded."""
    from notifier.deliver import LEASE, deliver_many, settle_lapsed

    ids = _group(runtime, 10, "k")
    dying = Counting(die_at=3)
    try:
        deliver_many(runtime, ids, {Channel.EMAIL: dying})
    except Killed:
        pass
    assert {runtime.store.get_outbound(i).state for i in ids} == {DeliveryState.SENDING}
    assert settle_lapsed(runtime) == 0  # the lease still runs: nobody else touches them
    clock.advance(LEASE.total_seconds() + 1)
    assert settle_lapsed(runtime) == 10
    states = [runtime.store.get_outbound(i).state for i in ids]
    assert states[:2] == [DeliveryState.DELIVERED] * 2
    assert states[2] is DeliveryState.UNCERTAIN
    assert states[3:] == [DeliveryState.PENDING] * 7
    nxt = Counting()
    deliver_many(runtime, ids, {Channel.EMAIL: nxt})
    assert dying.received + nxt.received == [f"k:{i}" for i in range(10)]  # each once, in order
    assert runtime.store.get_outbound(ids[2]).state is DeliveryState.UNCERTAIN


def test_without_the_send_log_a_lapsed_claim_is_uncertain_never_resent(
    runtime: Runtime, clock: ManualClock
) -> None:
    """Redis lost what the dead worker got to (flushed, or a new server): nothing is sent again."""
    from notifier.deliver import LEASE, deliver_many, settle_lapsed

    ids = _group(runtime, 4, "f")
    try:
        deliver_many(runtime, ids, {Channel.EMAIL: Counting(die_at=2)})
    except Killed:
        pass
    runtime.redis.flushdb()
    clock.advance(LEASE.total_seconds() + 1)
    settle_lapsed(runtime)
    assert {runtime.store.get_outbound(i).state for i in ids} == {DeliveryState.UNCERTAIN}
    again = Counting()
    deliver_many(runtime, ids, {Channel.EMAIL: again})
    assert again.received == []


def test_a_slow_group_stops_handing_over_before_its_claim_can_lapse(
    runtime: Runtime, clock: ManualClock
) -> None:
    """Forty seconds a send: the worker stops handing over before the lease could run out under
    it, so no other worker can send a row this one is still about to send."""
    from notifier.deliver import HAND_OVER_MARGIN, LEASE, deliver_many, settle_lapsed

    ids = _group(runtime, 5, "s")
    slow = Counting(clock=clock, slow=40)
    out = deliver_many(runtime, ids, {Channel.EMAIL: slow})
    handed = len(slow.received)
    assert 0 < handed < 5 and handed * 40 <= (LEASE - HAND_OVER_MARGIN).total_seconds() + 40
    assert [out[i] for i in ids[handed:]] == ["retry"] * (5 - handed)
    clock.advance(LEASE.total_seconds())
    settle_lapsed(runtime)
    rest = Counting()
    deliver_many(runtime, ids, {Channel.EMAIL: rest})
    assert slow.received + rest.received == [f"s:{i}" for i in range(5)]
    assert {runtime.store.get_outbound(i).state for i in ids} == {DeliveryState.DELIVERED}
