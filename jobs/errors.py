"""What a jobs request can fail with: the shared bad-request family, each with the HTTP status and code a view
answers with."""

from __future__ import annotations

from switchboard.http import BadRequest


class JobsError(BadRequest):
    """A jobs request cannot be done; the message says why and what to do."""


class JobsUnavailable(JobsError):
    """Redis (the queues) does not answer."""

    status = 503
    code = "unavailable"


class InvalidParameters(JobsError):
    """A job's parameters do not validate; ``errors`` maps field names to messages."""

    code = "invalid_parameters"

    def __init__(self, message: str, errors: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.errors = errors


class NotAllowed(JobsError):
    status = 403
    code = "forbidden"


class InvalidState(JobsError):
    """The run is not in a state that allows this action."""

    status = 409
    code = "invalid_state"


class TooManyActive(JobsError):
    """The user already has JOBS_USER_MAX_ACTIVE runs queued, scheduled or running."""

    status = 429
    code = "too_many_active"


def redis_unavailable(exc: Exception) -> JobsUnavailable:
    """The error for a Redis that does not answer, saying what to check."""
    return JobsUnavailable(
        f"The job queues (Redis) do not answer: {exc}. Check that Redis runs at REDIS_URL, then try again."
    )
