"""Job ``email.send_pending``: send the due messages of the outbox.

Runs from ``tutorpulse jobs run email.send_pending``, the embedded scheduler
(every minute by default) and ``GET|POST /api/cron/send-emails``, whose
``results`` are this job's counts: ``{sent, failed, skipped, deferred, errors}``
(plus ``retried`` and ``suppressed``, which are included in ``deferred`` and
``skipped``).
"""

from __future__ import annotations

from typing import Any

from tutorpulse.core.jobs import JobContext, job
from tutorpulse.email.outbox import send_pending


@job(
    "email.send_pending",
    description=(
        "Send due outbox messages: claims them atomically, honours the suppression list, "
        "quiet hours and the frequency cap, retries temporary failures with backoff."
    ),
    default_cron="* * * * *",
    lock_ttl_seconds=900,
)
def send_pending_job(context: JobContext) -> dict[str, Any]:
    report = send_pending(
        context.session_factory,
        settings=context.settings,
        clock=context.clock,
        worker_id=f"job-run-{context.run_id}",
    )
    return report.as_dict()
