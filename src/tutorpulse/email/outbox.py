"""The outbox worker: claim due messages, apply the sending policy, send, record the result.

Each step is its own short transaction (this is a worker, like the job runner,
so it opens its units of work from a session factory):

1. **Claim** a batch: one UPDATE moves due rows from ``pending`` to
   ``sending`` with ``claimed_by``/``claimed_at`` (``FOR UPDATE SKIP LOCKED``
   on PostgreSQL). Two workers never claim the same row. The batch's rows and
   whether each address is on the suppression list are read in one query.
2. **Prepare** each message: suppressed address → ``suppressed``; quiet hours
   in the tutor's time zone or the per-tutor frequency cap → back to
   ``pending`` with a later ``next_attempt_at`` (deferred, never dropped).
   Once half the claim timeout has passed the worker renews its claims and
   skips rows another worker has taken over.
3. **Send** outside any transaction, after the rate limiter allows it.
4. **Record** the result at once, before the next message: ``sent``;
   ``failed`` with the provider's reason (permanent failure, or the last
   allowed attempt); or back to ``pending`` after an exponential backoff
   (temporary failure).

A worker that dies leaves its claimed rows in ``sending``; once their claim is
older than ``EMAIL_CLAIM_TIMEOUT_SECONDS`` another run claims them again. A
message whose result was recorded is never sent again. The one ambiguity no
outbox can remove is a crash after the server accepted a message and before
its result was committed (the time of one UPDATE); that message is sent again
after the claim timeout, with the same Message-ID.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from hashlib import sha256
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from tutorpulse.core.clock import Clock
from tutorpulse.core.db import unit_of_work
from tutorpulse.core.settings import Settings
from tutorpulse.email import policy, tracking
from tutorpulse.email import repository as repo
from tutorpulse.email.transport import (
    OutgoingMessage,
    PermanentFailure,
    TemporaryFailure,
    Transport,
    build_transport,
    close_transport,
)

log = logging.getLogger("tutorpulse.email")

MAX_ERRORS_LISTED = 50
MAX_REASON = 2000


@dataclass
class SendReport:
    """What one ``send_pending`` run did. ``skipped``: suppressed, or taken over by another
    worker."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0
    retried: int = 0
    suppressed: int = 0
    errors: list[str] = field(default_factory=list)

    def error(self, text: str) -> None:
        if len(self.errors) < MAX_ERRORS_LISTED:
            self.errors.append(text[:500])

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "skipped": self.skipped,
            "deferred": self.deferred,
            "retried": self.retried,
            "suppressed": self.suppressed,
            "errors": list(self.errors),
        }


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def make_session_factory_on(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(bind=connection, expire_on_commit=False, autoflush=True)


def message_id_for(intervention_id: int, idempotency_key: str, sender: str) -> str:
    """A stable RFC 5322 Message-ID: the same on every attempt at one message."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "tutorpulse.local"
    digest = sha256(idempotency_key.encode()).hexdigest()[:12]
    return f"<intervention-{intervention_id}.{digest}@{domain}>"


class _Sender:
    """The state of one ``send_pending`` run (settings, secret, transport, limiter)."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        settings: Settings,
        clock: Clock,
        transport: Transport,
        worker: str,
        bucket: policy.TokenBucket,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.clock = clock
        self.transport = transport
        self.worker = worker
        self.bucket = bucket
        self.secret = tracking.signing_secret(settings)
        self.report = SendReport()
        self.claim_timeout = timedelta(seconds=settings.email_claim_timeout_seconds)
        self.owned: set[int] = set()
        self.claimed_at = clock.now()

    def start_batch(self, ids: list[int], claimed_at: datetime) -> None:
        self.owned = set(ids)
        self.claimed_at = claimed_at
        with self.factory() as db:
            self.rows = repo.load_outbox_rows(db, ids=ids)

    def _keep_claims(self, now: datetime) -> None:
        # Renew the batch's claims once half the timeout has passed (slow server,
        # rate limit), so no other worker takes over rows this one is working on;
        # rows already taken over drop out of ``owned``.
        if now - self.claimed_at < self.claim_timeout / 2:
            return
        with unit_of_work(self.factory) as db:
            self.owned = repo.renew_claims(db, ids=self.owned, worker=self.worker, now=now)
        self.claimed_at = now

    def prepare(self, intervention_id: int) -> OutgoingMessage | None:
        """The message to send now, or None when it was skipped, suppressed or deferred.

        The checks read in one short transaction; only an outcome other than
        "send" writes (in a second one that starts with the write, which SQLite
        needs to wait for a busy database instead of failing).
        """
        now = self.clock.now()
        self._keep_claims(now)
        if intervention_id not in self.owned:
            self.report.skipped += 1  # another worker took it over
            return None
        outcome: tuple[str, str, datetime | None]
        row = self.rows[intervention_id]
        if not row.to_email or not row.html or not row.text or not row.subject:
            outcome = ("failed", "message has no recipient or no rendered content", None)
        elif row.suppressed:
            outcome = ("suppressed", "recipient is on the suppression list", None)
        else:
            until, why = self._deferral(row, now)
            if until is None:
                return self._message(row)
            outcome = ("deferred", why, until)
        kind, reason, until = outcome
        with unit_of_work(self.factory) as db:
            if kind == "failed":
                done = repo.mark_failed(db, intervention_id=row.id, reason=reason, attempted=False)
            elif kind == "suppressed":
                done = repo.mark_suppressed(db, intervention_id=row.id, reason=reason)
            else:
                assert until is not None
                done = repo.release(
                    db, intervention_id=row.id, next_attempt_at=until, reason=None, attempted=False
                )
            data: dict[str, Any] = {"reason": reason}
            if until is not None:
                data["until"] = until.isoformat()
            if done:
                repo.add_event(db, intervention_id=row.id, event_type=kind, now=now, data=data)
        if not done:
            self.report.skipped += 1
        elif kind == "failed":
            self.report.failed += 1
            self.report.error(f"intervention {row.id}: {reason}")
        elif kind == "suppressed":
            self.report.suppressed += 1
            self.report.skipped += 1
        else:
            self.report.deferred += 1
        return None

    def _deferral(self, row: repo.OutboxRow, now: datetime) -> tuple[datetime | None, str]:
        s = self.settings
        quiet = policy.quiet_hours_end(
            now, zone=row.timezone, start=s.email_quiet_hours_start, end=s.email_quiet_hours_end
        )
        if quiet is not None:
            return (
                quiet,
                f"quiet hours {s.email_quiet_hours_start:02d}:00–"
                f"{s.email_quiet_hours_end:02d}:00 in {row.timezone}",
            )
        if s.email_frequency_cap_count > 0:
            window = timedelta(days=s.email_frequency_cap_days)
            with self.factory() as db:
                sends, in_flight = repo.recent_send_times(
                    db,
                    tutor_id=row.tutor_id,
                    since=now - window,
                    live_claims_after=now - self.claim_timeout,
                    exclude_id=row.id,
                )
            until = policy.frequency_cap_until(
                now,
                recent_sends=sends,
                in_flight=in_flight,
                cap=s.email_frequency_cap_count,
                window=window,
                recheck=timedelta(seconds=s.email_backoff_base_seconds),
            )
            if until is not None:
                return until, (
                    f"frequency cap: {s.email_frequency_cap_count} per "
                    f"{s.email_frequency_cap_days} days reached"
                )
        return None, ""

    def _message(self, row: repo.OutboxRow) -> OutgoingMessage:
        s = self.settings
        assert row.to_email
        assert row.html
        assert row.text
        assert row.subject
        html = row.html
        if s.email_tracking_enabled:
            html = tracking.instrument_html(
                html, intervention_id=row.id, base_url=s.public_base_url, secret=self.secret
            )
        headers = tracking.unsubscribe_headers(
            intervention_id=row.id,
            email=row.to_email,
            base_url=s.public_base_url,
            secret=self.secret,
            mailto=s.email_unsubscribe_mailto,
        )
        return OutgoingMessage(
            message_id=message_id_for(row.id, row.idempotency_key, s.email_from),
            to=row.to_email,
            sender=s.email_from,
            subject=row.subject,
            html=html,
            text=row.text,
            headers=headers,
            tags={
                "intervention_id": str(row.id),
                "template": row.template_key or "",
                "tutor_id": row.tutor_external_id,
            },
        )

    def deliver(self, intervention_id: int, message: OutgoingMessage) -> None:
        """Send ``message`` and record the outcome before returning."""
        self.bucket.acquire()
        try:
            result = self.transport.send(message)
        except TemporaryFailure as exc:
            self._temporary(intervention_id, exc.reason)
            return
        except PermanentFailure as exc:
            self._failed(intervention_id, exc.reason, provider=exc.provider)
            return
        except Exception as exc:  # a bug, not the provider: fail loudly, never resend blindly
            log.exception("transport %s raised unexpectedly", self.transport.name)
            self._failed(intervention_id, f"{type(exc).__name__}: {exc}", provider=None)
            return
        now = self.clock.now()
        with unit_of_work(self.factory) as db:
            recorded = repo.mark_sent(
                db,
                intervention_id=intervention_id,
                now=now,
                provider=result.provider,
                provider_message_id=result.provider_message_id,
            )
            repo.add_event(
                db,
                intervention_id=intervention_id,
                event_type="sent",
                now=now,
                provider=result.provider,
                data={"providerMessageId": result.provider_message_id, "worker": self.worker},
            )
        if not recorded:
            log.warning(
                "intervention %s was sent but its claim had been taken over", intervention_id
            )
        self.report.sent += 1

    def _failed(self, intervention_id: int, reason: str, *, provider: str | None) -> None:
        now = self.clock.now()
        reason = reason[:MAX_REASON]
        with unit_of_work(self.factory) as db:
            repo.mark_failed(db, intervention_id=intervention_id, reason=reason, attempted=True)
            repo.add_event(
                db,
                intervention_id=intervention_id,
                event_type="failed",
                now=now,
                provider=provider,
                data={"reason": reason, "permanent": True},
            )
        self.report.failed += 1
        self.report.error(f"intervention {intervention_id}: {reason}")

    def _temporary(self, intervention_id: int, reason: str) -> None:
        s = self.settings
        now = self.clock.now()
        reason = reason[:MAX_REASON]
        # Attempts as claimed (only the claiming worker changes them); no read here,
        # so the transaction starts with its write.
        attempts = self.rows[intervention_id].attempts + 1
        with unit_of_work(self.factory) as db:
            if attempts >= s.email_max_attempts:
                final = f"gave up after {attempts} attempts; last error: {reason}"
                repo.mark_failed(db, intervention_id=intervention_id, reason=final, attempted=True)
                repo.add_event(
                    db,
                    intervention_id=intervention_id,
                    event_type="failed",
                    now=now,
                    data={"reason": final, "permanent": False, "attempts": attempts},
                )
                self.report.failed += 1
                self.report.error(f"intervention {intervention_id}: {final}")
                return
            retry_at = now + policy.backoff_delay(
                attempts, base_seconds=s.email_backoff_base_seconds
            )
            repo.release(
                db,
                intervention_id=intervention_id,
                next_attempt_at=retry_at,
                reason=reason,
                attempted=True,
            )
            repo.add_event(
                db,
                intervention_id=intervention_id,
                event_type="retrying",
                now=now,
                data={"reason": reason, "attempts": attempts, "until": retry_at.isoformat()},
            )
        self.report.retried += 1
        self.report.deferred += 1
        self.report.error(
            f"intervention {intervention_id}: temporary failure, "
            f"retry at {retry_at.isoformat()}: {reason}"
        )


def send_pending(
    factory: sessionmaker[Session],
    *,
    settings: Settings,
    clock: Clock,
    transport: Transport | None = None,
    worker_id: str | None = None,
    limit: int | None = None,
    bucket: policy.TokenBucket | None = None,
    on_claimed: Callable[[list[int]], None] | None = None,
) -> SendReport:
    """Send every due message (at most ``limit``) and return what happened.

    ``transport`` defaults to the configured one (``build_transport``), closed
    at the end; a transport passed in is left open. ``bucket`` defaults to the
    process-wide rate limiter of the transport (``EMAIL_SEND_RATE_PER_SECOND``).
    Deferred and retried messages are not picked up again in the same run.
    """
    own_transport = transport is None
    active = transport if transport is not None else build_transport(settings)
    bind = factory.kw.get("bind")
    # One connection for the whole run, not one checkout (and pre-ping) per step.
    connection = bind.connect() if isinstance(bind, Engine) else None
    work = make_session_factory_on(connection) if connection is not None else factory
    sender = _Sender(
        work,
        settings=settings,
        clock=clock,
        transport=active,
        worker=worker_id or default_worker_id(),
        bucket=bucket or policy.bucket_for(active.name, settings.email_send_rate_per_second),
    )
    skip_locked = bind is not None and bind.dialect.name == "postgresql"
    handled = 0
    try:
        while limit is None or handled < limit:
            now = clock.now()
            batch = settings.email_batch_size
            if limit is not None:
                batch = min(batch, limit - handled)
            with unit_of_work(work) as db:
                ids = repo.claim_due(
                    db,
                    worker=sender.worker,
                    now=now,
                    stale_before=now - sender.claim_timeout,
                    limit=batch,
                    skip_locked=skip_locked,
                )
            if not ids:
                break
            sender.start_batch(ids, now)
            if on_claimed is not None:
                on_claimed(ids)
            for intervention_id in ids:
                message = sender.prepare(intervention_id)
                if message is not None:
                    sender.deliver(intervention_id, message)
            handled += len(ids)
    finally:
        if own_transport:
            close_transport(active)
        if connection is not None:
            connection.close()
    report = sender.report
    log.info(
        "email.send_pending %s: sent %d, failed %d, deferred %d, skipped %d",
        sender.worker,
        report.sent,
        report.failed,
        report.deferred,
        report.skipped,
    )
    return report
