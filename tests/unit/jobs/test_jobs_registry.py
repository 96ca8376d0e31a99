"""The registry: names, defaults, duplicates and loading of the job modules."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tutorpulse.core import jobs


@pytest.fixture
def cleanup() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        jobs.unregister_job(name)


def _func(context: jobs.JobContext) -> dict[str, Any]:
    return {}


def test_decorator_registers_the_spec_and_returns_the_function(cleanup: list[str]) -> None:
    cleanup.append("unit.register_me")
    decorated = jobs.job(
        "unit.register_me",
        description="  Does a thing.  ",
        default_cron="0 */6 * * *",
        lock_ttl_seconds=120,
    )(_func)

    assert decorated is _func
    spec = jobs.registered_jobs()["unit.register_me"]
    assert (spec.description, spec.default_cron, spec.lock_ttl_seconds) == (
        "Does a thing.",
        "0 */6 * * *",
        120,
    )
    assert spec.domain == "unit"
    assert jobs.get_job_or_raise("unit.register_me") is spec


@pytest.mark.parametrize(
    "name", ["nodot", "Upper.case", "a.b.c", "alerts.", ".generate", "alerts.generate-now"]
)
def test_names_must_be_domain_dot_verb(name: str) -> None:
    with pytest.raises(ValueError, match=r"domain\.verb"):
        jobs.job(name, description="x")


def test_bad_default_cron_or_ttl_is_refused() -> None:
    with pytest.raises(ValueError, match="five fields"):
        jobs.job("unit.bad_cron", description="x", default_cron="hourly")
    with pytest.raises(ValueError, match="lock_ttl_seconds"):
        jobs.job("unit.bad_ttl", description="x", lock_ttl_seconds=0)


def test_a_name_cannot_be_taken_by_another_function(cleanup: list[str]) -> None:
    cleanup.append("unit.taken")
    jobs.job("unit.taken", description="first")(_func)
    jobs.job("unit.taken", description="same function again")(_func)  # re-import is fine

    def other(context: jobs.JobContext) -> dict[str, Any]:
        return {}

    with pytest.raises(ValueError, match="already registered"):
        jobs.job("unit.taken", description="second")(other)
    assert jobs.registered_jobs()["unit.taken"].func is _func


def test_unknown_job_error_names_the_registered_ones(cleanup: list[str]) -> None:
    cleanup.append("unit.known")
    jobs.job("unit.known", description="x")(_func)
    with pytest.raises(jobs.NotFound, match=r"unit\.known"):
        jobs.get_job_or_raise("unit.unknown")


def test_load_job_modules_registers_core_prune_and_skips_missing_modules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Start from a registry and module cache without core.prune; both are restored after.
    monkeypatch.delitem(jobs._REGISTRY, "core.prune", raising=False)
    monkeypatch.delitem(sys.modules, "tutorpulse.core.jobs_prune", raising=False)
    monkeypatch.setattr(jobs, "_modules_loaded", False)
    monkeypatch.setattr(
        jobs, "JOB_MODULES", ("tutorpulse.core.jobs_prune", "tutorpulse.nowhere.jobs")
    )
    assert "core.prune" not in jobs.registered_jobs()

    jobs.load_job_modules()

    assert jobs.registered_jobs()["core.prune"].default_cron == "30 3 * * *"
    assert "tutorpulse.nowhere.jobs" not in sys.modules


def test_a_broken_job_module_is_not_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    # tutorpulse.core.jobs_cli exists; pretend a domain module of that name fails to import.
    monkeypatch.setattr(jobs, "_modules_loaded", False)
    monkeypatch.setattr(jobs, "JOB_MODULES", ("tutorpulse.core.jobs_cli",))

    def broken(name: str) -> None:
        raise ImportError(f"cannot import name 'thing' from {name}")

    monkeypatch.setattr(jobs.importlib, "import_module", broken)
    with pytest.raises(ImportError, match="cannot import name"):
        jobs.load_job_modules()
