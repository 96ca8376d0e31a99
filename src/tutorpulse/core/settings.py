"""Application settings, read once from the environment (and an optional .env file).

Every variable has the ``TUTORPULSE_`` prefix; the original platform's names
(``DATABASE_URL``, ``CRON_SECRET``, ``RESEND_API_KEY``, ``EMAIL_FROM``,
``ANTHROPIC_API_KEY`` …) are accepted as well so existing deployments keep working.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str, *original: str) -> AliasChoices:
    return AliasChoices(f"TUTORPULSE_{name}", *original)


class Settings(BaseSettings):
    """All configuration of one TutorPulse process. Documented in docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # Storage
    data_dir: Path = Field(Path("var"), validation_alias=_env("DATA_DIR"))
    database_url: str = Field("", validation_alias=_env("DATABASE_URL", "DATABASE_URL"))
    database_echo: bool = Field(False, validation_alias=_env("DATABASE_ECHO"))

    # Security
    secret_key: SecretStr | None = Field(None, validation_alias=_env("SECRET_KEY"))
    cron_secret: SecretStr | None = Field(None, validation_alias=_env("CRON_SECRET", "CRON_SECRET"))
    session_max_age_seconds: int = Field(
        12 * 3600, ge=60, validation_alias=_env("SESSION_MAX_AGE_SECONDS")
    )
    cookie_secure: bool = Field(False, validation_alias=_env("COOKIE_SECURE"))
    metrics_token: SecretStr | None = Field(None, validation_alias=_env("METRICS_TOKEN"))

    # HTTP / operations
    host: str = Field("127.0.0.1", validation_alias=_env("HOST"))
    port: int = Field(3000, ge=1, le=65535, validation_alias=_env("PORT"))
    log_json: bool = Field(False, validation_alias=_env("LOG_JSON"))
    log_level: str = Field("INFO", validation_alias=_env("LOG_LEVEL"))
    scheduler_enabled: bool = Field(True, validation_alias=_env("SCHEDULER_ENABLED"))
    timezone_display: str = Field("UTC", validation_alias=_env("DISPLAY_TIMEZONE"))

    job_run_retention_days: int = Field(90, ge=1, validation_alias=_env("JOB_RUN_RETENTION_DAYS"))

    # Domain defaults
    churn_inactivity_days: int = Field(30, ge=1, validation_alias=_env("CHURN_INACTIVITY_DAYS"))

    # Email (used by the email issue; declared here so one Settings covers everything)
    email_transport: Literal["smtp", "resend", "sendgrid", "file"] = Field(
        "file", validation_alias=_env("EMAIL_TRANSPORT", "EMAIL_TRANSPORT")
    )
    email_fallback: str = Field("", validation_alias=_env("EMAIL_FALLBACK", "EMAIL_FALLBACK"))
    email_from: str = Field(
        "TutorPulse <tutor-success@tutorpulse.local>",
        validation_alias=_env("EMAIL_FROM", "EMAIL_FROM"),
    )
    smtp_host: str = Field("127.0.0.1", validation_alias=_env("SMTP_HOST", "SMTP_HOST"))
    smtp_port: int = Field(25, validation_alias=_env("SMTP_PORT", "SMTP_PORT"))
    smtp_username: str | None = Field(None, validation_alias=_env("SMTP_USERNAME", "SMTP_USERNAME"))
    smtp_password: SecretStr | None = Field(
        None, validation_alias=_env("SMTP_PASSWORD", "SMTP_PASSWORD")
    )
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls", validation_alias=_env("SMTP_SECURITY", "SMTP_SECURITY")
    )
    resend_api_key: SecretStr | None = Field(
        None, validation_alias=_env("RESEND_API_KEY", "RESEND_API_KEY")
    )
    sendgrid_api_key: SecretStr | None = Field(
        None, validation_alias=_env("SENDGRID_API_KEY", "SENDGRID_API_KEY")
    )
    anthropic_api_key: SecretStr | None = Field(
        None, validation_alias=_env("ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY")
    )
    public_base_url: str = Field("http://localhost:3000", validation_alias=_env("PUBLIC_BASE_URL"))

    # Risk models (risk/)
    risk_churn_horizon_days: int = Field(
        30, ge=7, le=180, validation_alias=_env("RISK_CHURN_HORIZON_DAYS")
    )
    risk_cutoff_step_days: int = Field(
        15, ge=7, le=90, validation_alias=_env("RISK_CUTOFF_STEP_DAYS")
    )
    risk_warmup_days: int = Field(60, ge=14, validation_alias=_env("RISK_WARMUP_DAYS"))
    risk_churn_medium_threshold: float = Field(
        0.15, gt=0, lt=1, validation_alias=_env("RISK_CHURN_MEDIUM_THRESHOLD")
    )
    risk_churn_high_threshold: float = Field(
        0.40, gt=0, lt=1, validation_alias=_env("RISK_CHURN_HIGH_THRESHOLD")
    )
    risk_noshow_medium_threshold: float = Field(
        0.02, gt=0, lt=1, validation_alias=_env("RISK_NOSHOW_MEDIUM_THRESHOLD")
    )
    risk_noshow_high_threshold: float = Field(
        0.05, gt=0, lt=1, validation_alias=_env("RISK_NOSHOW_HIGH_THRESHOLD")
    )
    risk_noshow_window_days: int = Field(
        7, ge=1, le=28, validation_alias=_env("RISK_NOSHOW_WINDOW_DAYS")
    )
    risk_noshow_test_windows: int = Field(
        6, ge=1, validation_alias=_env("RISK_NOSHOW_TEST_WINDOWS")
    )
    risk_noshow_negative_share: float = Field(
        0.25, gt=0, le=1, validation_alias=_env("RISK_NOSHOW_NEGATIVE_SHARE")
    )
    risk_score_days_ahead: int = Field(
        14, ge=1, le=60, validation_alias=_env("RISK_SCORE_DAYS_AHEAD")
    )
    risk_train_max_tutors: int = Field(
        20_000, ge=100, validation_alias=_env("RISK_TRAIN_MAX_TUTORS")
    )
    risk_fairness_churn_tolerance: float = Field(
        0.05, gt=0, lt=1, validation_alias=_env("RISK_FAIRNESS_CHURN_TOLERANCE")
    )
    risk_fairness_noshow_tolerance: float = Field(
        0.01, gt=0, lt=1, validation_alias=_env("RISK_FAIRNESS_NOSHOW_TOLERANCE")
    )
    risk_fairness_min_group: int = Field(
        100, ge=1, validation_alias=_env("RISK_FAIRNESS_MIN_GROUP")
    )
    risk_train_seed: int = Field(0, validation_alias=_env("RISK_TRAIN_SEED"))

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        return normalise_database_url(value) if value else value

    def resolved_database_url(self) -> str:
        """The database URL in use: the configured one, or a SQLite file under data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tutorpulse.db').as_posix()}"


def normalise_database_url(url: str) -> str:
    """Map ``postgres://`` / ``postgresql://`` to the psycopg 3 driver SQLAlchemy needs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests build their own ``Settings``."""
    return Settings()
