"""Application errors. Each carries its HTTP status; one handler renders them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ErrorDetail:
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message}


@dataclass
class AppError(Exception):
    """Base of every expected failure. ``status`` is the HTTP status the API answers."""

    message: str
    details: list[ErrorDetail] = field(default_factory=list)
    status: int = 400

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.message, "details": [d.as_dict() for d in self.details]}


@dataclass
class Invalid(AppError):
    status: int = 400

    @classmethod
    def field(cls, name: str, message: str) -> Invalid:
        return cls(f"{name}: {message}", [ErrorDetail(name, message)])


@dataclass
class NotFound(AppError):
    status: int = 404


@dataclass
class Conflict(AppError):
    status: int = 409


@dataclass
class Unauthorized(AppError):
    status: int = 401


@dataclass
class Forbidden(AppError):
    status: int = 403


@dataclass
class PayloadTooLarge(AppError):
    status: int = 413


@dataclass
class Locked(AppError):
    """A job or resource is held by someone else."""

    status: int = 409
