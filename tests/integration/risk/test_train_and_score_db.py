"""Train and score through the database (both engines) on a small generated world."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tutorpulse.core import migrate
from tutorpulse.core.settings import Settings
from tutorpulse.engagement.models import TutorHealth
from tutorpulse.risk import repository, service
from tutorpulse.risk.features import older_history
from tutorpulse.risk.frames import to_epoch
from tutorpulse.risk.models import ChurnScoreDaily, ModelVersion, SessionRisk
from tutorpulse.risk.student import older_student_counts
from tutorpulse.tutors import service as tutors_service
from tutorpulse.tutors.importer import import_directory
from tutorpulse.tutors.models import Tutor
from tutorpulse.world.config import WorldConfig
from tutorpulse.world.generator import generate_world
from tutorpulse.world.writer import write_world

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def world_engine(fresh_engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    migrate.upgrade(fresh_engine)
    world = generate_world(WorldConfig(tutors=600, days=240, seed=5, now=NOW))
    write_world(world, tmp_path / "w", fmt="parquet")
    import_directory(fresh_engine, directory=tmp_path / "w", now=NOW)
    return fresh_engine


def _settings() -> Settings:
    return Settings(_env_file=None, risk_noshow_test_windows=4, risk_fairness_min_group=50)  # type: ignore[call-arg]


def _assert_sql_aggregates_match_pandas(db: Session) -> None:
    """Scoring reads the older history as SQL aggregates; training counts rows in pandas."""
    now_ts = to_epoch(NOW)
    in_sql = repository.older_history(db, cutoff=now_ts)
    frames = repository.load_frames(db, end=NOW)
    in_pandas = older_history(frames, now_ts)
    counts = in_sql.session_counts
    for column in ("sessions_365d", "tutor_no_shows_180d", "late_365d", "late_start_365d"):
        assert counts[column].sum() > 0
    pd.testing.assert_frame_equal(
        counts.sort_index(), in_pandas.session_counts.sort_index(), check_names=False
    )
    assert len(in_sql.last_login) > 0
    pd.testing.assert_series_equal(
        in_sql.last_login.sort_index(),
        in_pandas.last_login.sort_index(),
        check_names=False,
        check_exact=True,
    )
    students_sql = repository.older_student_counts(db, cutoff=now_ts)
    students_pandas = older_student_counts(frames, now_ts)
    assert students_sql["no_shows"].sum() > 0
    pd.testing.assert_frame_equal(
        students_sql.sort_index(), students_pandas.sort_index(), check_names=False
    )


def test_train_activate_score_through_the_database(world_engine: Engine) -> None:
    settings = _settings()
    with Session(world_engine) as db:
        _assert_sql_aggregates_match_pandas(db)
        # The engagement domain creates tutor_health rows; stand in for it with minimal rows.
        ids = db.scalars(select(Tutor.id)).all()
        db.add_all(TutorHealth(tutor_id=i, as_of=NOW, computed_at=NOW) for i in ids)
        db.commit()
        before = tutors_service.get_dashboard_metrics(db, now=NOW)
        assert before.high_risk_count is None

        outcomes = service.train_models(db, now=NOW, settings=settings)
        db.commit()
        for o in outcomes:
            held = o.version.metrics["heldOut"]
            print(
                f"\n{o.target}: v{o.version.version} {o.version.algorithm} AUC {held['auc']} "
                f"Brier {held['brier']} (base rate {held['brierBaseRate']}) -> {o.reason}"
            )
        assert {o.target for o in outcomes} == {"churn", "tutor_no_show", "student_no_show"}
        churn_out = next(o for o in outcomes if o.target == "churn")
        assert churn_out.activated
        assert churn_out.version.metrics["heldOut"]["auc"] > 0.7

        # An operator may activate a version explicitly (here the no-show one, which this
        # small world cannot validate), so that upcoming sessions get scored too.
        ns = next(o for o in outcomes if o.target == "tutor_no_show")
        service.activate_model(db, version_id=ns.version.id)
        db.commit()
        # Sessions first without an active student model (whether or not training
        # activated it): the student columns stay empty.
        student = next(o for o in outcomes if o.target == "student_no_show")
        student.version.is_active = False
        db.commit()
        service.score_all(db, now=NOW, settings=settings)
        assert db.scalar(select(func.count()).select_from(SessionRisk)) > 0
        assert (
            db.scalar(
                select(func.count()).where(SessionRisk.student_no_show_probability.is_not(None))
            )
            == 0
        )
        assert student.version.metrics["baselineName"] == "student's own past no-show rate"
        service.activate_model(db, version_id=student.version.id)
        db.commit()
        evaluated = service.evaluate_model(
            db, version_id=student.version.id, now=NOW, settings=settings
        )
        assert evaluated["target"] == "student_no_show"
        assert evaluated["model"]["auc"] is not None

        summary = service.score_all(db, now=NOW, settings=settings)
        db.commit()
        print(summary)
        assert summary.tutors_scored > 0
        # Each scored tutor's score is also the day's entry of the churn-score history.
        assert summary.churn_history_rows == summary.tutors_scored
        assert db.scalar(select(func.count()).select_from(ChurnScoreDaily)) == (
            summary.tutors_scored
        )
        scored = db.scalar(
            select(func.count())
            .select_from(TutorHealth)
            .where(TutorHealth.churn_probability.is_not(None))
        )
        assert scored == summary.tutors_scored
        levels = set(
            db.scalars(
                select(TutorHealth.churn_risk_level).where(
                    TutorHealth.churn_risk_level.is_not(None)
                )
            )
        )
        assert levels <= {"High", "Medium", "Low"}
        assert summary.sessions_scored > 0
        assert db.scalar(select(func.count()).select_from(SessionRisk)) == summary.sessions_scored
        assert summary.student_noshow_version == student.version.version
        risks = db.scalars(select(SessionRisk)).all()
        assert all(r.student_no_show_probability is not None for r in risks)
        assert {r.student_model_version_id for r in risks} == {student.version.id}
        assert {r.student_risk_level for r in risks} <= {"High", "Medium", "Low"}
        probs = [r.student_no_show_probability for r in risks]
        assert 0 < min(probs) < max(probs) < 1
        with_drivers = [r for r in risks if r.student_drivers]
        assert with_drivers
        keys = {d["key"] for r in with_drivers for d in r.student_drivers or []}
        assert keys <= {"student", "pair", "timing", "tutor_students"}
        after = tutors_service.get_dashboard_metrics(db, now=NOW)
        assert after.high_risk_count is not None
        high = db.scalar(
            select(func.count())
            .select_from(TutorHealth)
            .join(Tutor, Tutor.id == TutorHealth.tutor_id)
            .where(TutorHealth.churn_risk_level == "High", Tutor.status == "active")
        )
        assert after.high_risk_count == high

        # Retraining on the same data gives a model that is not worse: it is activated,
        # and exactly one version per target stays active.
        service.train_models(db, now=NOW, settings=settings, targets=("churn",))
        db.commit()
        active = db.scalars(
            select(ModelVersion).where(ModelVersion.target == "churn", ModelVersion.is_active)
        ).all()
        assert len(active) == 1
