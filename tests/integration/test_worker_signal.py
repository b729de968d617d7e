"""The worker leaves RQ's command channel at once when it stops (worker/__main__.py
``HotlineWorker.unsubscribe``): RQ 3 with redis-py 8 could wait a minute for the channel's listening
thread, which made a SIGTERM'd worker outlive the launcher's patience."""

from __future__ import annotations

import time

import redis

from worker.__main__ import HotlineWorker
from worker.relay import QUEUES


def subscribed(client: redis.Redis) -> HotlineWorker:
    worker = HotlineWorker(list(QUEUES), connection=client)
    worker.subscribe()
    deadline = time.monotonic() + 5
    while not worker.pubsub.subscribed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker.pubsub.subscribed
    return worker


def test_leaving_the_command_channel_ends_its_thread_at_once(redis_client: redis.Redis) -> None:
    for _ in range(20):  # the race RQ loses now and then: 20 tries, every one prompt
        worker = subscribed(redis_client)
        time.sleep(0.02)  # the thread is reading the channel
        started = time.monotonic()
        worker.unsubscribe()
        assert time.monotonic() - started < 3
        thread = worker.pubsub_thread
        assert thread is not None
        thread.join(3)
        assert not thread.is_alive()


def test_a_thread_already_waiting_for_a_subscription_does_not_hold_the_worker(
    redis_client: redis.Redis,
) -> None:
    """The state RQ's own order leads to: the channel unsubscribed, the thread back in
    get_message(timeout=60). RQ's unsubscribe() then waits out the 60 s."""
    worker = subscribed(redis_client)
    worker.pubsub.unsubscribe()
    time.sleep(0.3)  # the reply is read; the thread now waits for a subscription
    started = time.monotonic()
    worker.unsubscribe()
    assert time.monotonic() - started < 3
