"""Who did what: the actor of a request and the append-only audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutorpulse.core.clock import utcnow
from tutorpulse.core.models import AuditLog

ACTOR_KINDS = ("user", "api_key", "system", "cron")


@dataclass(frozen=True)
class Actor:
    """The authenticated caller: a dashboard user, an API key, the system or a cron trigger."""

    kind: str
    id: int | None
    name: str
    role: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.kind not in ACTOR_KINDS:
            raise ValueError(f"unknown actor kind {self.kind!r}")

    def has_scope(self, scope: str) -> bool:
        """True when the actor holds ``scope``; the admin scope implies every scope."""
        return scope in self.scopes or "admin" in self.scopes

    @property
    def label(self) -> str:
        """How the actor is shown in the audit log, e.g. ``user:ana@example.com``."""
        return f"{self.kind}:{self.name}"


SYSTEM_ACTOR = Actor(kind="system", id=None, name="system", scopes=frozenset({"admin"}))


def record_audit(
    db: Session,
    *,
    actor: Actor,
    action: str,
    target_type: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> AuditLog:
    """Append one audit entry (flushed, not committed) and return it."""
    entry = AuditLog(
        at=utcnow(),
        actor_type=actor.kind,
        actor_id=actor.id,
        actor_name=actor.name,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details or {},
        request_id=request_id,
    )
    db.add(entry)
    db.flush()
    return entry


def list_audit(db: Session, *, limit: int, offset: int) -> tuple[Sequence[AuditLog], int]:
    """Audit entries newest first, one page, and the total number of entries."""
    total = db.scalar(select(func.count()).select_from(AuditLog)) or 0
    rows = db.scalars(
        select(AuditLog)
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, total
