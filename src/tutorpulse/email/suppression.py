"""The suppression list: addresses that must never be emailed again (service; flushes only).

Addresses are normalised (trimmed, lower-cased) before they are stored or
looked up, so ``Ana@Example.com`` and ``ana@example.com `` are one entry.
Reasons: ``unsubscribe`` (the recipient asked), ``bounce`` (hard bounce),
``complaint`` (marked as spam) and ``manual`` (added by a coach or admin).
Adding an address twice is harmless: the first entry, with its reason, is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tutorpulse.core.audit import Actor, record_audit
from tutorpulse.core.errors import Invalid, NotFound
from tutorpulse.email.models import Suppression

REASONS = ("unsubscribe", "bounce", "complaint", "manual")
MAX_EMAIL_LENGTH = 320
MAX_NOTE_LENGTH = 1000


def normalise_email(email: str) -> str:
    """The canonical form of an address (trimmed, lower case); Invalid if it is not one."""
    value = (email or "").strip().lower()
    local, at, domain = value.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain
        or domain.startswith(".")
        or domain.endswith(".")
        or any(c.isspace() for c in value)
        or len(value) > MAX_EMAIL_LENGTH
    ):
        raise Invalid.field("email", "is not an email address")
    return value


@dataclass(frozen=True)
class SuppressionPage:
    items: Sequence[Suppression]
    total: int
    limit: int
    offset: int


def is_suppressed(db: Session, *, email: str) -> bool:
    """True when ``email`` is on the list.

    An unparsable address is not on it (False): the transport then rejects it
    with its own, truthful reason instead of a misleading "suppressed".
    """
    try:
        address = normalise_email(email)
    except Invalid:
        return False
    return get_suppression(db, email=address) is not None


def get_suppression(db: Session, *, email: str) -> Suppression | None:
    address = normalise_email(email)
    return db.scalars(select(Suppression).where(Suppression.email == address)).first()


def suppressed_among(db: Session, *, emails: Sequence[str]) -> set[str]:
    """The normalised addresses of ``emails`` that are suppressed (one query)."""
    wanted = {e.strip().lower() for e in emails if e}
    if not wanted:
        return set()
    rows = db.scalars(select(Suppression.email).where(Suppression.email.in_(wanted)))
    return set(rows)


def add_suppression(
    db: Session,
    *,
    email: str,
    reason: str,
    now: datetime,
    source: str | None = None,
    note: str | None = None,
    actor: Actor | None = None,
    request_id: str | None = None,
) -> tuple[Suppression, bool]:
    """Put ``email`` on the list; returns (entry, created). Idempotent.

    An existing entry is returned unchanged (``created`` False). With an
    ``actor`` the addition is written to the audit log.
    """
    if reason not in REASONS:
        raise Invalid.field("reason", f"must be one of {', '.join(REASONS)}")
    if note is not None and len(note) > MAX_NOTE_LENGTH:
        raise Invalid.field("note", f"must be at most {MAX_NOTE_LENGTH} characters")
    address = normalise_email(email)
    existing = get_suppression(db, email=address)
    if existing is not None:
        return existing, False
    entry = Suppression(
        email=address,
        reason=reason,
        source=source,
        note=(note or None),
        created_at=now,
        created_by=actor.label if actor is not None else None,
    )
    try:
        with db.begin_nested():
            db.add(entry)
            db.flush()
    except IntegrityError:
        # Another request added the same address between our read and our write.
        found = get_suppression(db, email=address)
        if found is None:
            raise
        return found, False
    if actor is not None:
        record_audit(
            db,
            actor=actor,
            action="email.suppression.add",
            target_type="suppression",
            target_id=address,
            details={"reason": reason, "source": source, "note": note},
            request_id=request_id,
        )
    return entry, True


def remove_suppression(
    db: Session, *, email: str, actor: Actor, request_id: str | None = None
) -> Suppression:
    """Take ``email`` off the list (audited); NotFound when it is not on it."""
    address = normalise_email(email)
    entry = get_suppression(db, email=address)
    if entry is None:
        raise NotFound(f"{address} is not on the suppression list")
    details = {"reason": entry.reason, "source": entry.source}
    db.delete(entry)
    db.flush()
    record_audit(
        db,
        actor=actor,
        action="email.suppression.remove",
        target_type="suppression",
        target_id=address,
        details=details,
        request_id=request_id,
    )
    return entry


def list_suppressions(
    db: Session,
    *,
    q: str | None = None,
    reason: str | None = None,
    limit: int,
    offset: int,
) -> SuppressionPage:
    """Entries newest first, filtered by address substring and reason; one page."""
    if reason is not None and reason not in REASONS:
        raise Invalid.field("reason", f"must be one of {', '.join(REASONS)}")
    conditions = []
    if q:
        needle = q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(
            or_(
                Suppression.email.like(f"%{needle}%", escape="\\"),
                func.lower(func.coalesce(Suppression.note, "")).like(f"%{needle}%", escape="\\"),
            )
        )
    if reason:
        conditions.append(Suppression.reason == reason)
    total = db.scalar(select(func.count()).select_from(Suppression).where(*conditions)) or 0
    items = db.scalars(
        select(Suppression)
        .where(*conditions)
        .order_by(Suppression.created_at.desc(), Suppression.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return SuppressionPage(items=items, total=total, limit=limit, offset=offset)


def count_by_reason(db: Session) -> dict[str, int]:
    rows = db.execute(select(Suppression.reason, func.count()).group_by(Suppression.reason))
    counts = dict.fromkeys(REASONS, 0)
    for reason, n in rows:
        counts[str(reason)] = int(n)
    return counts
