"""Business errors that carry their HTTP status, rendered as RFC 9457 problem+json."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field at fault: its path (`body.items[3].hs_code`) and the reason."""

    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


class TamgaError(Exception):
    """A refusal the client can act on; subclasses fix the status and problem type."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"
    type_slug: ClassVar[str] = "bad-request"

    def __init__(self, detail: str, *, errors: Iterable[FieldError] = (), **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors: list[FieldError] = list(errors)
        self.extra = extra

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        """Give the problem+json document for this error."""
        body: dict[str, Any] = {
            "type": f"https://tamga.example/problems/{self.type_slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [e.as_dict() for e in self.errors]
        body.update(self.extra)
        return body

    def headers(self) -> dict[str, str]:
        return {}


class ValidationFailed(TamgaError):
    status = 422
    title = "Validation failed"
    type_slug = "validation"

    def __init__(self, errors: Sequence[FieldError], detail: str | None = None) -> None:
        if not errors:
            raise ValueError("ValidationFailed needs at least one field error")
        summary = detail or "; ".join(f"{e.field}: {e.reason}" for e in errors[:5])
        super().__init__(summary, errors=errors)


class NotFound(TamgaError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class Conflict(TamgaError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class IllegalTransition(Conflict):
    title = "Illegal state transition"
    type_slug = "illegal-transition"


class InsufficientGuarantee(Conflict):
    title = "Guarantee balance too low"
    type_slug = "guarantee-balance"


class Unauthorized(TamgaError):
    status = 401
    title = "Not authenticated"
    type_slug = "unauthenticated"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(TamgaError):
    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class TooManyAttempts(TamgaError):
    status = 429
    title = "Too many attempts"
    type_slug = "too-many-attempts"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class PayloadTooLarge(TamgaError):
    status = 413
    title = "Payload too large"
    type_slug = "payload-too-large"
