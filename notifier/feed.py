"""The back-office feed's sender (CONTRACT.md "Back-office feed and reports", issue 21).

One outbox row ``feed:<event id>`` per event (intake/feed.py builds the body); this POSTs it to
``HOTLINE_BACKOFFICE_WEBHOOK`` signed exactly as the SMS webhooks are (channels.signing: HMAC
over the timestamp and the body, fresh at every attempt). Anything but a 2xx raises, so the job
is retried with RQ's back-off and then by the relay, until the row is abandoned for agents to
see (``stuck_outbox``).

Once per id at the receiver: the relay puts a row back on the queue when its job has waited past
the re-enqueue window, so two copies of one job can run, even at once. Each copy takes a claim in
Redis for longer than one attempt can last and posts only if the row is not done yet; the other
copy is retried and then finds it done (counted at the receiver by `make chaos`). Only a worker
that dies between the receiver's 2xx and our record sends the event again after the claim
lapses; the event's ``id`` is in the body, and the receiver drops it by that id.
"""

from __future__ import annotations

import logging

import httpx

from channels.signing import signed_headers
from intake.runtime import Runtime

log = logging.getLogger(__name__)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
CLAIM_SECONDS = 30  # longer than one attempt can take (TIMEOUT)
# One client for the process (httpx.post() builds a TLS context per call); no keep-alive, so every
# attempt is a fresh connection as before.
_client = httpx.Client(timeout=TIMEOUT, limits=httpx.Limits(max_keepalive_connections=0))


class FeedRefused(RuntimeError):
    """The receiver did not take the event (non-2xx or unreachable); the job is retried."""


def post_feed(runtime: Runtime, key: str) -> str:
    """Send one feed row; marks it done on a 2xx. Without a webhook the row is done unsent."""
    settings = runtime.settings
    if not settings.backoffice_webhook:
        runtime.store.mark_done(key, error="no HOTLINE_BACKOFFICE_WEBHOOK")
        return "no webhook"
    claim = f"hotline:feed-claim:{key}"
    if not runtime.redis.set(claim, "1", nx=True, ex=CLAIM_SECONDS):
        raise FeedRefused("another worker is posting this event now")
    try:
        if runtime.store.outbox_done(key):
            return "delivered before"
        body = runtime.store.feed_body_of(key)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            **signed_headers(settings.backoffice_secret, body),
        }
        try:
            response = _client.post(settings.backoffice_webhook, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise FeedRefused(f"back office unreachable: {type(exc).__name__}") from None
        if not 200 <= response.status_code < 300:
            raise FeedRefused(f"back office answered {response.status_code}")
        runtime.store.mark_done(key)
        return "delivered"
    finally:
        runtime.redis.delete(claim)
