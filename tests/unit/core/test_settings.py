"""Settings: original variable names work, URLs are normalised, every setting is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from tutorpulse.core.settings import Settings, normalise_database_url

DOCS = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def test_original_names_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/tp")
    monkeypatch.setenv("CRON_SECRET", "s3cret")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "postgresql+psycopg://u@db/tp"
    assert settings.cron_secret is not None
    assert settings.cron_secret.get_secret_value() == "s3cret"


def test_prefixed_name_wins_over_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUTORPULSE_PORT", "8080")
    assert Settings(_env_file=None).port == 8080  # type: ignore[call-arg]


def test_default_database_is_sqlite_under_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TUTORPULSE_DATABASE_URL", raising=False)
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    assert settings.resolved_database_url() == f"sqlite:///{tmp_path.as_posix()}/tutorpulse.db"


def test_url_normalisation_leaves_other_drivers_alone() -> None:
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"
    assert normalise_database_url("postgresql://a@b/c") == "postgresql+psycopg://a@b/c"


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text()
    missing = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", [f"TUTORPULSE_{name.upper()}"])
        for env in choices:
            if f"`{env}`" not in text:
                missing.append(env)
    assert missing == []
