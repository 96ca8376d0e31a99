"""Row validation of the data contract, without a database."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tutorpulse.tutors import contract


def events(data: list[str | None], **columns: list[str | None]) -> pa.Table:
    n = len(data)
    base: dict[str, list[str | None]] = {
        "event_id": [f"E{i}" for i in range(n)],
        "tutor_id": ["T0001"] * n,
        "event_type": ["login"] * n,
        "occurred_at": ["2026-05-01T10:00:00Z"] * n,
        "data": data,
    }
    base.update(columns)
    return pa.table({k: pa.array(v, pa.string()) for k, v in base.items()})


def bad(table: pa.Table, spec: contract.TableSpec = contract.EVENTS) -> set[tuple[int, str]]:
    parsed = contract.parse_table(spec, table, file_label="f.csv")
    return {(r.line, r.field) for r in parsed.errors.frame().itertuples()}


@pytest.mark.parametrize("multiline", [False, True])
def test_data_must_be_a_json_object(multiline: bool) -> None:
    ok_object = '{\n "a": 1\n}' if multiline else '{"a": 1}'
    table = events([ok_object, "{}", "", None, "[1]", "nope", '"text"', '{"a": 1} {"b": 2}'])
    # Header is line 1: rows 5–8 are lines 6–9.
    assert bad(table) == {(6, "data"), (7, "data"), (8, "data"), (9, "data")}


def test_event_type_and_timestamp_are_checked() -> None:
    table = events(
        ["{}", "{}", "{}"],
        event_type=["login", "LOGIN", "teleported"],
        occurred_at=["2026-05-01T10:00:00+02:00", "2026-05-01 10:00:00", "yesterday"],
    )
    assert bad(table) == {(4, "event_type"), (4, "occurred_at")}


def test_camel_case_headers_and_unknown_columns() -> None:
    table = pa.table(
        {
            "studentId": pa.array(["S1"]),
            "gradeLevel": pa.array(["College"]),
            "favouriteColour": pa.array(["teal"]),
        }
    )
    parsed = contract.parse_table(contract.STUDENTS, table, file_label="students.csv")
    assert len(parsed.errors) == 0
    assert parsed.unknown_columns == ["favouriteColour"]
    assert parsed.frame["grade_level"].tolist() == ["college"]


def test_a_bad_value_is_not_also_reported_missing() -> None:
    table = events(["{}"], occurred_at=["not a time"])
    parsed = contract.parse_table(contract.EVENTS, table, file_label="f.csv")
    assert parsed.errors.frame()["reason"].tolist() == ["not an ISO-8601 timestamp"]
