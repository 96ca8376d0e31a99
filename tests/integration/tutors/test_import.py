"""The file import: validation names every bad row, loads nothing on error, re-import is a no-op."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from tutorpulse.core import migrate
from tutorpulse.engagement.models import EngagementEvent
from tutorpulse.sessions.models import TutorSession
from tutorpulse.tutors import importer
from tutorpulse.tutors.models import Student, Tutor

NOW = datetime(2026, 6, 1, tzinfo=UTC)

TUTORS = """\
tutor_id,email,name,timezone,subjects,certification_level,joined_on,status,churned_at,last_login_at
T0001,ada@example.com,Ada L,Europe/London,Math;Science,expert,2025-01-10,active,,2026-05-30T08:00:00+01:00
T0002,bo@example.com,Bo K,America/Chicago,English,basic,2025-03-01,churned,2026-04-01T00:00:00Z,
"""
STUDENTS = """\
student_id,grade_level,timezone
ST1,high_school,America/New_York
ST2,college,UTC
"""
SESSIONS = """\
session_id,tutor_id,student_id,subject,scheduled_start,scheduled_minutes,actual_start,actual_end,status,cancelled_by,rescheduled_by,student_rating,student_satisfaction,engagement_score,technical_issue
S1,T0001,ST1,Math,2026-05-01T15:00:00Z,60,2026-05-01T15:03:00Z,2026-05-01T16:00:00Z,completed,,,5,9,8.5,false
S2,T0001,ST1,Math,2026-05-08T15:00:00Z,60,,,rescheduled,,tutor,,,,
S3,T0001,ST1,Math,2026-05-09T15:00:00Z,60,2026-05-09T15:00:00Z,2026-05-09T16:00:00Z,completed,,,4,8,7,true
S4,T0002,ST2,English,2026-03-01T10:00:00-05:00,30,,,tutor_no_show,,,,,,
S5,T0001,ST2,Science,2026-06-03T10:00:00Z,90,,,scheduled,,,,,,
"""
EVENTS = """\
event_id,tutor_id,event_type,occurred_at,data
E1,T0001,login,2026-05-31T09:00:00Z,{}
E2,T0001,session_completed,2026-05-09T16:00:00Z,"{""sessionId"": ""S3""}"
,T0002,login,2026-03-01T08:00:00Z,
"""


def write(folder: Path, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        (folder / f"{name}.csv").write_text(textwrap.dedent(body))
    return folder


def run_import(engine: Engine, folder: Path, **kwargs: object) -> importer.ImportReport:
    with engine.begin() as conn:
        return importer.import_files(conn, files=importer.find_files(folder), now=NOW, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def empty_engine(fresh_engine: Engine) -> Engine:
    migrate.upgrade(fresh_engine)
    return fresh_engine


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        return {
            m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0
            for m in (Tutor, Student, TutorSession, EngagementEvent)
        }


def test_valid_import_loads_everything_and_reimport_is_a_noop(
    empty_engine: Engine, tmp_path: Path
) -> None:
    folder = write(
        tmp_path / "ok", tutors=TUTORS, students=STUDENTS, sessions=SESSIONS, events=EVENTS
    )
    report = run_import(empty_engine, folder)
    assert counts(empty_engine) == {
        "tutor": 2,
        "student": 2,
        "tutor_session": 5,
        "engagement_event": 3,
    }
    assert report.files["sessions"].inserted == 5
    with Session(empty_engine) as s:
        ada = s.scalars(select(Tutor).where(Tutor.external_id == "T0001")).one()
        assert ada.subjects == ["Math", "Science"]
        assert ada.primary_subject == "Math"
        # 08:00+01:00 in the file, but the 09:00Z login event is later: it wins.
        assert ada.last_login_at == datetime(2026, 5, 31, 9, 0, tzinfo=UTC)
        first = dict(
            s.execute(select(TutorSession.external_id, TutorSession.is_first_session)).all()
        )
        # S1 is the first pairing of ST1–T0001; S2 was rescheduled, S3 is a repeat.
        assert first == {"S1": True, "S2": False, "S3": False, "S4": True, "S5": True}
        s4 = s.scalars(select(TutorSession).where(TutorSession.external_id == "S4")).one()
        assert s4.scheduled_start == datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
        rated = s.scalars(select(TutorSession).where(TutorSession.external_id == "S1")).one()
        assert (rated.student_rating, rated.engagement_score, rated.technical_issue) == (
            5,
            8.5,
            False,
        )
    with Session(empty_engine) as s:
        before = s.execute(
            text("SELECT external_id, updated_at FROM tutor_session ORDER BY 1")
        ).all()
    again = run_import(empty_engine, folder)
    assert counts(empty_engine) == {
        "tutor": 2,
        "student": 2,
        "tutor_session": 5,
        "engagement_event": 3,
    }
    for f in again.files.values():
        assert (f.inserted, f.updated) == (0, 0), f.name
        assert f.unchanged == f.rows
    with Session(empty_engine) as s:
        after = s.execute(
            text("SELECT external_id, updated_at FROM tutor_session ORDER BY 1")
        ).all()
    assert before == after


def test_changed_row_is_updated_and_last_login_never_moves_back(
    empty_engine: Engine, tmp_path: Path
) -> None:
    run_import(
        empty_engine,
        write(tmp_path / "a", tutors=TUTORS, students=STUDENTS, sessions=SESSIONS, events=EVENTS),
    )
    older_login = TUTORS.replace("2026-05-30T08:00:00+01:00", "2026-01-01T00:00:00Z").replace(
        "Ada L", "Ada Lovelace"
    )
    report = run_import(empty_engine, write(tmp_path / "b", tutors=older_login))
    assert report.files["tutors"].updated == 1
    with Session(empty_engine) as s:
        ada = s.scalars(select(Tutor).where(Tutor.external_id == "T0001")).one()
        assert ada.name == "Ada Lovelace"
        assert ada.last_login_at == datetime(2026, 5, 31, 9, 0, tzinfo=UTC)


BAD_SESSIONS = SESSIONS + textwrap.dedent("""\
    S6,T0001,ST1,Math,2026-05-10T15:00:00Z,60,,,completed,,,9,,,
    S7,T9999,ST1,Math,2026-05-11T15:00:00Z,60,,,completed,,,,,,
    S8,T0001,ST1,Math,not-a-time,60,,,completed,,,,,,
    S1,T0001,ST1,Math,2026-05-12T15:00:00Z,60,,,completed,,,,,,
    S9,T0001,,Math,2026-05-12T15:00:00Z,60,,,completed,,,,,,
""")


def test_bad_rows_load_nothing_and_are_each_named(empty_engine: Engine, tmp_path: Path) -> None:
    folder = write(
        tmp_path / "bad", tutors=TUTORS, students=STUDENTS, sessions=BAD_SESSIONS, events=EVENTS
    )
    with pytest.raises(importer.ImportRejected) as caught:
        run_import(empty_engine, folder)
    errors = caught.value.report.errors
    found = {(r.line, r.field) for r in errors.itertuples()}
    # Header is line 1; S6 is the 6th data row → line 7.
    assert (7, "student_rating") in found  # rating 9 on a 1–5 scale
    assert (8, "tutor_id") in found  # unknown tutor
    assert (9, "scheduled_start") in found  # unparsable timestamp
    assert (10, "session_id") in found  # duplicate id
    assert (11, "student_id") in found  # missing required field
    reasons = " ".join(errors["reason"])
    assert "expected 1–5" in reasons
    assert "first seen at line 2" in reasons
    assert counts(empty_engine) == {
        "tutor": 0,
        "student": 0,
        "tutor_session": 0,
        "engagement_event": 0,
    }


def test_skip_invalid_loads_the_valid_rows(empty_engine: Engine, tmp_path: Path) -> None:
    folder = write(
        tmp_path / "bad", tutors=TUTORS, students=STUDENTS, sessions=BAD_SESSIONS, events=EVENTS
    )
    report = run_import(empty_engine, folder, skip_invalid=True)
    assert report.files["sessions"].rejected == 5
    assert counts(empty_engine)["tutor_session"] == 5
    rejects = tmp_path / "rejects.csv"
    importer.write_rejects(report.errors, rejects)
    assert set(pd.read_csv(rejects)["line"]) == {7, 8, 9, 10, 11}


def test_missing_required_column_rejects_the_file(empty_engine: Engine, tmp_path: Path) -> None:
    folder = write(tmp_path / "nocol", tutors="tutor_id,name\nT1,X\n")
    with pytest.raises(importer.ImportRejected) as caught:
        run_import(empty_engine, folder, skip_invalid=True)
    fields = set(caught.value.report.errors["field"])
    assert {"email", "joined_on"} <= fields


def test_parquet_and_camel_case_headers(empty_engine: Engine, tmp_path: Path) -> None:
    folder = write(tmp_path / "csv", tutors=TUTORS, students=STUDENTS)
    pq_dir = tmp_path / "pq"
    pq_dir.mkdir()
    tutors = pd.read_csv(folder / "tutors.csv", dtype=str)
    tutors.columns = [
        c.split("_")[0] + "".join(p.title() for p in c.split("_")[1:]) for c in tutors.columns
    ]
    tutors["joinedOn"] = pd.to_datetime(tutors["joinedOn"]).dt.date
    tutors.to_parquet(pq_dir / "tutors.parquet")
    report = run_import(empty_engine, pq_dir)
    assert report.files["tutors"].inserted == 2
    assert report.files["tutors"].unknown_columns == []
