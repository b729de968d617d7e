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
