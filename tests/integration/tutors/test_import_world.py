"""A generated world passes the import's validation whole and lands row for row."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tutorpulse.core import migrate
from tutorpulse.engagement.models import EngagementEvent
from tutorpulse.sessions.models import TutorSession
from tutorpulse.tutors import importer
from tutorpulse.tutors.models import Tutor
from tutorpulse.world.config import WorldConfig
from tutorpulse.world.generator import generate_world
from tutorpulse.world.writer import write_world

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module", params=["csv", "parquet"])
def world_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp(f"world-{request.param}")
    world = generate_world(WorldConfig(tutors=300, days=60, seed=11, now=NOW))
    write_world(world, folder, fmt=request.param)
    return folder


def test_generated_world_imports_cleanly_and_idempotently(
    fresh_engine: Engine, world_dir: Path
) -> None:
    migrate.upgrade(fresh_engine)
    files = importer.find_files(world_dir)
    with fresh_engine.begin() as conn:
        report = importer.import_files(conn, files=files, now=NOW)
    assert report.error_count == 0
    sessions_file = files["sessions"]
    expected = (
        pd.read_csv(sessions_file, dtype=str)
        if sessions_file.suffix == ".csv"
        else pd.read_parquet(sessions_file)
    )
    with Session(fresh_engine) as s:
        assert s.scalar(select(func.count()).select_from(TutorSession)) == len(expected)
        assert s.scalar(select(func.count()).select_from(Tutor)) == report.files["tutors"].rows
        assert (
            s.scalar(select(func.count()).select_from(EngagementEvent))
            == report.files["events"].rows
        )
        # The generator marks first pairings; the importer keeps what the file says.
        firsts = s.scalar(
            select(func.count()).select_from(TutorSession).where(TutorSession.is_first_session)
        )
    marked = expected["is_first_session"].astype(str).str.lower().isin(["true", "1"]).sum()
    assert firsts == marked
    with fresh_engine.begin() as conn:
        again = importer.import_files(conn, files=files, now=NOW)
    assert all((f.inserted, f.updated) == (0, 0) for f in again.files.values())


def test_first_sessions_derived_when_absent_match_the_generator(
    fresh_engine: Engine, world_dir: Path, tmp_path: Path
) -> None:
    """Drop is_first_session from the file: the derived flags equal the generator's.

    Pairs that met before the generated window have no flagged session in the
    files (their first meeting is not in the data), so only pairs that began
    inside the window are compared.
    """
    migrate.upgrade(fresh_engine)
    files = importer.find_files(world_dir)
    stripped = tmp_path / "stripped"
    stripped.mkdir()
    for name, path in files.items():
        target = stripped / path.name
        if name == "sessions":
            frame = (
                pd.read_csv(path, dtype=str, keep_default_na=False)
                if path.suffix == ".csv"
                else pd.read_parquet(path)
            )
            truth = frame["is_first_session"].astype(str).str.lower().isin(["true", "1"])
            frame = frame.drop(columns=["is_first_session"])
            if path.suffix == ".csv":
                frame.to_csv(target, index=False)
            else:
                frame.to_parquet(target)
        else:
            target.write_bytes(path.read_bytes())
    with fresh_engine.begin() as conn:
        report = importer.import_files(conn, files=importer.find_files(stripped), now=NOW)
    assert report.derived_first_sessions == len(truth)
    with Session(fresh_engine) as s:
        derived = dict(
            s.execute(select(TutorSession.external_id, TutorSession.is_first_session)).all()
        )
    pair = frame["student_id"].astype(str) + "|" + frame["tutor_id"].astype(str)
    began_in_window = pair.isin(set(pair[truth.to_numpy()]))
    assert began_in_window.sum() > 100
    ids = frame["session_id"].astype(str)[began_in_window.to_numpy()]
    wanted = truth[began_in_window.to_numpy()]
    mismatched = [sid for sid, want in zip(ids, wanted, strict=True) if derived[sid] != bool(want)]
    assert mismatched == []
