"""One error hierarchy for the whole service.

Every error vocwatch raises on purpose derives from :class:`VocwatchError`, carries the
data needed to act on it, and says what to do in its message.
"""

from __future__ import annotations


class VocwatchError(Exception):
    """Root of every error vocwatch raises on purpose."""


class ConfigError(VocwatchError):
    """Settings or a configuration file are invalid; the service refuses to start."""

    def __init__(self, message: str, *, source: str = "", field: str = "") -> None:
        where = ": ".join(part for part in (source, field) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.field = field


class InvalidEvent(VocwatchError):
    """An input message breaks its event contract (see docs/events.md).

    ``reason`` is one of a small fixed set of codes (used as a metric label and in the
    dead-letter record); ``detail`` names the field and what is wrong with it.
    """

    REASONS = frozenset(
        {
            "too_large",
            "not_utf8",
            "not_json",
            "not_object",
            "missing_field",
            "wrong_type",
            "invalid_value",
            "unknown_enum",
            "too_long",
            "invalid_time",
            "processing_error",
        }
    )

    def __init__(self, reason: str, detail: str, *, field: str = "") -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown dead-letter reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.field = field


class ActionRefused(VocwatchError):
    """A person's action on an alert (acknowledging, silencing) is refused: ``field`` names
    what is missing or wrong, the message says what to send instead."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class InvalidCorrection(VocwatchError):
    """A correction of a text's category or sentiment (from the API, or a line of a LABELS
    file) is refused: ``field`` names what is wrong, the message what to send instead."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class StackError(VocwatchError):
    """An embedded or external server (broker, Redis) could not be started or reached."""


class DeliveryError(VocwatchError):
    """An alert sink did not take a message (HTTP status, timeout, or a vendor error code).

    ``retryable`` says whether sending again may succeed; ``retry_after`` is the wait in
    seconds the receiver asked for, if any; ``rate_limited`` marks a vendor's rate limit,
    which also pauses the sink's budget for ``retry_after`` seconds.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        rate_limited: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.rate_limited = rate_limited
