"""Email benchmark: messages per second rendered and sent over SMTP, tracking on.

    python benchmarks/bench_email.py                      # 2,000 messages, SQLite
    python benchmarks/bench_email.py --messages 5000 --database postgresql+psycopg://postgres@127.0.0.1/tp_bench_email

The SMTP server is aiosmtpd in a separate process (its Sink handler accepts and
discards), on localhost. The database is a fresh SQLite file (or the given
PostgreSQL database, whose email tables are emptied first). Tutors get a login
and a few sessions so the variables are computed from data as in production.

Two phases, both through the real code paths:
1. queue: ``service.queue_email`` per message (tutor facts query, variable
   filling, Jinja2 rendering with CSS inlining, insert) — the API/CLI path;
2. send: ``outbox.send_pending`` (atomic claims, policy checks, signed click
   links and open pixel, List-Unsubscribe headers, SMTP, result recorded),
   rate limit off, quiet hours and frequency cap off.

It prints messages/s for each phase and end to end, and the share of the
end-to-end time spent rendering templates (``render_email``) and adding
tracking (``instrument_html``). Figures, not assertions.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import delete

from tutorpulse.core import migrate
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.db import create_db_engine, make_session_factory, unit_of_work
from tutorpulse.core.settings import Settings
from tutorpulse.email import outbox, service
from tutorpulse.email.models import EmailEvent
from tutorpulse.email.policy import TokenBucket
from tutorpulse.email.transport import SmtpTransport
from tutorpulse.interventions.models import Intervention
from tutorpulse.sessions.models import TutorSession
from tutorpulse.tutors.models import Student, Tutor

NOW = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
TEMPLATES = ("engagement_no_login_7d", "re_engagement", "reengagement_14d", "technical_issues")


class Timer:
    """Wraps a function and adds up the wall time spent in it."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def wrap(self, func: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
                self.calls += 1

        return timed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_smtp_server(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ]
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit("aiosmtpd did not start")


def seed(factory: Any, tutors: int) -> list[str]:
    ids = []
    with unit_of_work(factory) as db:
        db.execute(delete(EmailEvent))
        db.execute(delete(Intervention))
        db.execute(delete(Tutor).where(Tutor.external_id.like("BENCH%")))
        students = [
            Student(external_id=f"BENCHS{n:05d}", grade_level="high_school") for n in range(50)
        ]
        db.add_all(students)
        db.flush()
        for n in range(tutors):
            tutor = Tutor(
                external_id=f"BENCH{n:06d}",
                email=f"bench{n}@example.test",
                name=f"Bench Tutor {n}",
                timezone="UTC",
                subjects=["Math"],
                primary_subject="Math",
                joined_on=date(2024, 1, 1),
                status="active",
                last_login_at=NOW - timedelta(days=8 + n % 20),
            )
            db.add(tutor)
            db.flush()
            for k in range(6):
                db.add(
                    TutorSession(
                        external_id=f"BENCHX{n:06d}{k}",
                        tutor_id=tutor.id,
                        student_id=students[(n + k) % 50].id,
                        subject="Math",
                        scheduled_start=NOW - timedelta(days=2 + 5 * k),
                        scheduled_minutes=60,
                        status="completed",
                        student_rating=3 + (n + k) % 3,
                        engagement_score=5.0 + k / 2,
                        technical_issue=(n + k) % 4 == 0,
                    )
                )
            ids.append(tutor.external_id)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--tutors", type=int, default=500)
    parser.add_argument(
        "--database", default="", help="database URL (default: a fresh SQLite file)"
    )
    parser.add_argument(
        "--per-transaction",
        type=int,
        default=1,
        help="messages queued per transaction: 1 = one API request each (default); "
        "a campaign queues many in one",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-email-"))
    url = args.database or f"sqlite:///{workdir / 'bench.db'}"
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    factory = make_session_factory(engine)
    settings = Settings(
        _env_file=None,
        database_url=url,
        data_dir=workdir,
        secret_key=SecretStr("bench-secret-0123456789abcdef0123"),
        public_base_url="https://tp.example.test",
        email_tracking_enabled=True,
        email_send_rate_per_second=0,
        email_quiet_hours_start=0,
        email_quiet_hours_end=0,
        email_frequency_cap_count=0,
        email_postal_address="1 Bench Street",
    )
    tutors = seed(factory, args.tutors)

    render_timer, instrument_timer = Timer(), Timer()
    service.render_email = render_timer.wrap(service.render_email)
    outbox.tracking.instrument_html = instrument_timer.wrap(outbox.tracking.instrument_html)

    started = time.perf_counter()
    step = max(1, args.per_transaction)
    for first in range(0, args.messages, step):
        with unit_of_work(factory) as db:
            for i in range(first, min(first + step, args.messages)):
                service.queue_email(
                    db,
                    tutor_id=tutors[i % len(tutors)],
                    template_key=TEMPLATES[i % len(TEMPLATES)],
                    variables={},
                    now=NOW,
                    settings=settings,
                )
    queue_seconds = time.perf_counter() - started

    port = free_port()
    server = start_smtp_server(port)
    try:
        transport = SmtpTransport(host="127.0.0.1", port=port, security="none", timeout=30)
        started = time.perf_counter()
        report = outbox.send_pending(
            factory,
            settings=settings,
            clock=FrozenClock(NOW),
            transport=transport,
            bucket=TokenBucket(0),
        )
        send_seconds = time.perf_counter() - started
        transport.close()
    finally:
        server.kill()
    assert report.sent == args.messages, report.as_dict()

    total = queue_seconds + send_seconds
    n = args.messages
    load = os.getloadavg()
    print(
        f"machine         {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} (1/5 min)"
    )
    print(f"database        {engine.dialect.name}, {step} message(s) queued per transaction")
    print(f"messages        {n:,} to {len(tutors):,} tutors, templates {', '.join(TEMPLATES)}")
    print(f"queue (render)  {queue_seconds:7.2f} s  {n / queue_seconds:8.1f} msg/s")
    print(f"send  (SMTP)    {send_seconds:7.2f} s  {n / send_seconds:8.1f} msg/s")
    print(f"end to end      {total:7.2f} s  {n / total:8.1f} msg/s  (rendered + sent, tracking on)")
    print(
        f"rendering       {render_timer.seconds:7.2f} s  {render_timer.seconds / total:6.1%} of end to end "
        f"({render_timer.seconds / render_timer.calls * 1000:.2f} ms per message)"
    )
    print(
        f"tracking links  {instrument_timer.seconds:7.2f} s  {instrument_timer.seconds / total:6.1%} of end to end"
    )
    engine.dispose()


if __name__ == "__main__":
    main()
