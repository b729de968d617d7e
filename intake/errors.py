"""One root exception and a few precise subclasses; the web layer maps them to JSON errors."""

from __future__ import annotations


class HotlineError(Exception):
    """Root of every error the product raises on purpose."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigError(HotlineError):
    """A setting or data file is wrong; start-up stops with one line naming it."""

    code = "config"
    status = 500


class InvalidInput(HotlineError):
    code = "invalid_input"
    status = 400


class Unauthorized(HotlineError):
    code = "unauthorized"
    status = 401


class Forbidden(HotlineError):
    """Known, and not allowed to do this (an anonymous citizen's contact, a role too low)."""

    code = "forbidden"
    status = 403


class NotFound(HotlineError):
    code = "not_found"
    status = 404


class Conflict(HotlineError):
    """The request does not fit the ticket's state (e.g. an extension past the profile's count)."""

    code = "conflict"
    status = 409


class InvalidTransition(Conflict):
    code = "invalid_transition"


class StoreUnavailable(HotlineError):
    """A store cannot be reached; the caller answers with a retryable status."""

    code = "store_unavailable"
    status = 503


class DeliveryError(HotlineError):
    """A sender could not deliver; the subclass tells the notifier what to do next."""

    code = "delivery"
    status = 502


class RetryLater(DeliveryError):
    """Safe to send again (429, connection refused before sending)."""

    def __init__(self, message: str, *, after: float = 30.0) -> None:
        super().__init__(message)
        self.after = after


class PermanentFailure(DeliveryError):
    """Never deliverable as it stands (blocked bot, unknown number): marked failed for agents."""


class Uncertain(DeliveryError):
    """Sent but unconfirmed (a timeout after the request left): never resent automatically,
    so nobody gets a message twice (RELIABILITY.md §6)."""
