"""Alerts on a generated world, run like ``tutorpulse demo`` does (real jobs, frozen clock).

A scaled-down demo world (the demo's generator defaults, seed and 180 days; 2,000 tutors)
is imported once per engine; ``engagement.rebuild``, ``risk.train``, ``risk.score``
and ``alerts.generate`` run through ``run_job``. Then:

- every rule fires for at least one tutor and none for more than half of them;
- the backtest, against the churn dates planted in ``truth.json``, catches at least
  70% of the churners with an alert 14 or more days before they churned (the issue's
  acceptance figure), with precision and lead time printed (``-s`` shows them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.scratch import scratch_engine
from tutorpulse.alerts import service
from tutorpulse.alerts.backtest import HORIZON_DAYS, LEAD_DAYS
from tutorpulse.alerts.models import Alert
from tutorpulse.alerts.rules import load_default_rules
from tutorpulse.core import migrate
from tutorpulse.core.clock import FrozenClock
from tutorpulse.core.db import make_session_factory
from tutorpulse.core.jobs import load_job_modules, run_job
from tutorpulse.core.settings import Settings
from tutorpulse.risk import service as risk_service
from tutorpulse.tutors.importer import import_directory
from tutorpulse.world.config import WorldConfig
from tutorpulse.world.generator import World, generate_world
from tutorpulse.world.writer import write_world

NOW = datetime(2026, 6, 1, tzinfo=UTC)
TUTORS = 2000
DAYS = 180
pytestmark = pytest.mark.slow


@dataclass
class Built:
    world: World
    engine: Engine
    settings: Settings
    generate: dict[str, Any]


def _database(database_url: str, backend: str, folder: Path) -> Iterator[Engine]:
    yield from scratch_engine(database_url, backend, folder, "alerts_world")


def _run(name: str, factory: Any, settings: Settings) -> dict[str, Any]:
    run = run_job(name, session_factory=factory, settings=settings, clock=FrozenClock(NOW),
                  trigger="test")  # fmt: skip
    assert run.status == "succeeded", run.error
    return dict(run.counts or {})


@pytest.fixture(scope="module")
def built(
    database_url: str, database_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    folder = tmp_path_factory.mktemp("alerts-world")
    world = generate_world(WorldConfig(tutors=TUTORS, days=DAYS, seed=42, now=NOW))
    write_world(world, folder, fmt="parquet")
    # This world is a tenth of the demo's: its no-show model never reaches the demo's
    # session High cut-off (0.05) in the next 72 h, so the session cut-offs are lowered;
    # upcoming_noshow_risk counts the stored High levels, whatever cut-off made them.
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        scheduler_enabled=False,
        risk_noshow_medium_threshold=0.01,
        risk_noshow_high_threshold=0.02,
    )
    for eng in _database(database_url, database_backend, folder):
        migrate.upgrade(eng)
        assert import_directory(eng, directory=folder, now=NOW).error_count == 0
        factory = make_session_factory(eng)
        load_job_modules()
        _run("engagement.rebuild", factory, settings)
        _run("risk.train", factory, settings)
        with Session(eng) as db:
            # As an operator may: use the trained no-show model even if this smaller world
            # could not validate it, so that upcoming sessions carry stored risk levels.
            for target in ("churn", "tutor_no_show"):
                newest = max(
                    (m for m in risk_service.list_models(db) if m.target == target),
                    key=lambda m: m.version,
                )
                risk_service.activate_model(db, version_id=newest.id)
            db.commit()
        _run("risk.score", factory, settings)
        counts = _run("alerts.generate", factory, settings)
        yield Built(world, eng, settings, counts)


def test_every_rule_fires_and_none_for_more_than_half_of_the_tutors(built: Built) -> None:
    by_rule = built.generate["byRule"]
    evaluated = built.generate["evaluated"]
    print(f"\nalerts.generate on {evaluated:,} active tutors ({TUTORS:,} × {DAYS} d world):")
    for key, n in sorted(by_rule.items(), key=lambda kv: -kv[1]):
        print(f"  {key:<24} {n:>6,} tutors ({n / evaluated:.1%})")
    assert set(by_rule) == {r.key for r in load_default_rules()}
    assert evaluated > TUTORS / 2
    for key, n in by_rule.items():
        assert n >= 1, key
        assert n <= evaluated / 2, key
    with Session(built.engine) as db:
        stored = set(db.scalars(select(Alert.rule_key).distinct()))
    # Inhibition may hold back an inhibited rule's alerts, never a critical rule's.
    assert {"churn_risk_high", "no_sessions_14d", "upcoming_noshow_risk"} <= stored
    assert built.generate["errors"] == 0


def test_backtest_catches_most_churners_two_weeks_ahead(built: Built) -> None:
    end = (NOW - timedelta(days=HORIZON_DAYS)).date()
    start = end - timedelta(days=59)
    with Session(built.engine) as db:
        report = service.backtest(
            db, start=start, end=end, settings=built.settings, step_days=4, coaches=10
        )
    planted = pd.Series(built.world.truth["churn"]["churned_at"], dtype=object)
    churned = pd.to_datetime(planted, utc=True).dt.date
    lo, hi = start + timedelta(days=LEAD_DAYS), end + timedelta(days=HORIZON_DAYS)
    in_scope = churned[(churned >= lo) & (churned <= hi)]
    overall = report["rules"]["overall"]
    print(
        f"\nbacktest {start} → {end} every 4 d on the {TUTORS:,}-tutor world: "
        f"{report['churnersInWindow']} churners in scope (truth.json: {len(in_scope)}); "
        f"overall caught ≥ {LEAD_DAYS} d ahead {overall['caught']} = "
        f"{overall['caughtShare']:.1%}, median lead {overall['medianLeadDays']} d, "
        f"precision (churned within {HORIZON_DAYS} d) {overall['precision']:.1%}, "
        f"{overall['alertsPerCoachWeek']} alerts per coach-week (10 coaches)"
    )
    for key, f in report["rules"].items():
        if key != "overall":
            share = "—" if f["caughtShare"] is None else f"{f['caughtShare']:.1%}"
            prec = "—" if f["precision"] is None else f"{f['precision']:.1%}"
            print(f"  {key:<24} caught {share:>6}  lead {f['medianLeadDays']}  precision {prec}")
    assert report["churnersInWindow"] == len(in_scope) > 20
    assert overall["caughtShare"] >= 0.70
    assert overall["medianLeadDays"] >= LEAD_DAYS
    assert 0 < overall["precision"] < 1


def test_backtest_job_reports_the_configured_window(built: Built) -> None:
    factory = make_session_factory(built.engine)
    settings = built.settings.model_copy(
        update={"alerts_backtest_days": 15, "alerts_backtest_step_days": 14}
    )
    counts = _run("alerts.backtest", factory, settings)
    start, end = service.backtest_window(NOW, settings)
    assert (start, end) == (date(2026, 3, 19), date(2026, 4, 2))
    assert (counts["from"], counts["to"]) == (start.isoformat(), end.isoformat())
    assert (counts["stepDays"], counts["evaluatedDays"]) == (14, 2)
    assert counts["churnersInWindow"] > 0
    assert counts["rules"]["no_login_7d"]["alerts"] > 0
    with Session(built.engine) as db:
        shown = service.last_backtest(db)
    assert shown.latest is not None
    assert shown.latest.status == "succeeded"
    assert shown.report == counts
