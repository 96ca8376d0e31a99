"""Application settings, read once from the environment (and an optional .env file).

Every variable has the ``TUTORPULSE_`` prefix; the original platform's names
(``DATABASE_URL``, ``CRON_SECRET``, ``RESEND_API_KEY``, ``EMAIL_FROM``,
``ANTHROPIC_API_KEY`` …) are accepted as well so existing deployments keep working.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The data contract's event types (tutors/contract.py EVENT_TYPES); core cannot import it.
DEFAULT_EVENT_TYPES = (
    "login",
    "session_scheduled",
    "session_completed",
    "profile_updated",
    "availability_updated",
    "message_sent",
    "training_completed",
    "opportunity_viewed",
    "email_opened",
    "email_clicked",
    "coaching_scheduled",
    "coaching_attended",
)


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

    # Engagement: ingestion and the always-current tutor health (docs/engagement.md)
    event_types: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EVENT_TYPES),
        validation_alias=_env("EVENT_TYPES"),
    )
    ingest_max_future_skew_seconds: int = Field(
        300, ge=0, validation_alias=_env("INGEST_MAX_FUTURE_SKEW_SECONDS")
    )
    ingest_max_batch: int = Field(1000, ge=1, le=10000, validation_alias=_env("INGEST_MAX_BATCH"))
    # Concurrent /track and /track/batch requests share one write transaction of at
    # most this many events (a single larger batch is written alone).
    ingest_group_max_events: int = Field(
        2000, ge=1, le=100_000, validation_alias=_env("INGEST_GROUP_MAX_EVENTS")
    )
    ingest_max_body_bytes: int = Field(
        2_000_000, ge=1024, validation_alias=_env("INGEST_MAX_BODY_BYTES")
    )
    ingest_max_event_data_bytes: int = Field(
        16_384, ge=2, validation_alias=_env("INGEST_MAX_EVENT_DATA_BYTES")
    )
    api_key_cache_seconds: int = Field(30, ge=0, validation_alias=_env("API_KEY_CACHE_SECONDS"))
    poor_first_session_rating: float = Field(
        3.5, ge=1, le=5, validation_alias=_env("POOR_FIRST_SESSION_RATING")
    )
    engagement_refresh_batch: int = Field(
        2000, ge=1, le=20000, validation_alias=_env("ENGAGEMENT_REFRESH_BATCH")
    )
    engagement_refresh_budget_seconds: float = Field(
        45, gt=0, validation_alias=_env("ENGAGEMENT_REFRESH_BUDGET_SECONDS")
    )
    engagement_refresh_delay_seconds: float = Field(
        2, ge=0, validation_alias=_env("ENGAGEMENT_REFRESH_DELAY_SECONDS")
    )
    engagement_refresh_min_interval_seconds: float = Field(
        10, ge=0, validation_alias=_env("ENGAGEMENT_REFRESH_MIN_INTERVAL_SECONDS")
    )
    engagement_refresh_max_share: float = Field(
        0.25, gt=0, le=1, validation_alias=_env("ENGAGEMENT_REFRESH_MAX_SHARE")
    )
    engagement_refresh_max_interval_seconds: float = Field(
        40, gt=0, validation_alias=_env("ENGAGEMENT_REFRESH_MAX_INTERVAL_SECONDS")
    )
    engagement_background_refresh: bool = Field(
        True, validation_alias=_env("ENGAGEMENT_BACKGROUND_REFRESH")
    )
    engagement_platform_refresh_seconds: int = Field(
        60, ge=0, validation_alias=_env("ENGAGEMENT_PLATFORM_REFRESH_SECONDS")
    )

    # Email tracking, webhooks and HTTP providers (email issue, tracking half)
    email_tracking_enabled: bool = Field(True, validation_alias=_env("EMAIL_TRACKING_ENABLED"))
    email_machine_click_window_seconds: int = Field(
        10, ge=0, le=3600, validation_alias=_env("EMAIL_MACHINE_CLICK_WINDOW_SECONDS")
    )
    email_unsubscribe_mailto: str | None = Field(
        None, validation_alias=_env("EMAIL_UNSUBSCRIBE_MAILTO")
    )
    resend_webhook_secret: SecretStr | None = Field(
        None, validation_alias=_env("RESEND_WEBHOOK_SECRET", "RESEND_WEBHOOK_SECRET")
    )
    sendgrid_webhook_public_key: str | None = Field(
        None, validation_alias=_env("SENDGRID_WEBHOOK_PUBLIC_KEY", "SENDGRID_WEBHOOK_PUBLIC_KEY")
    )
    email_webhook_tolerance_seconds: int = Field(
        300, ge=1, le=86400, validation_alias=_env("EMAIL_WEBHOOK_TOLERANCE_SECONDS")
    )
    resend_api_base_url: str = Field(
        "https://api.resend.com", validation_alias=_env("RESEND_API_BASE_URL")
    )
    sendgrid_api_base_url: str = Field(
        "https://api.sendgrid.com", validation_alias=_env("SENDGRID_API_BASE_URL")
    )
    email_http_timeout_seconds: float = Field(
        10.0, gt=0, le=300, validation_alias=_env("EMAIL_HTTP_TIMEOUT_SECONDS")
    )
    email_machine_open_networks: str = Field(
        "", validation_alias=_env("EMAIL_MACHINE_OPEN_NETWORKS")
    )

    @field_validator("email_machine_open_networks")
    @classmethod
    def _cidr_list(cls, value: str) -> str:
        for item in value.replace(",", " ").split():
            ipaddress.ip_network(item, strict=False)  # ValueError names the bad entry
        return value

    # Email delivery: templates, outbox, SMTP/file transports, sending policy (email issue, A)
    smtp_timeout_seconds: float = Field(30.0, gt=0, validation_alias=_env("SMTP_TIMEOUT_SECONDS"))
    email_send_rate_per_second: float = Field(
        20.0, ge=0, validation_alias=_env("EMAIL_SEND_RATE_PER_SECOND")
    )
    email_max_attempts: int = Field(5, ge=1, le=50, validation_alias=_env("EMAIL_MAX_ATTEMPTS"))
    email_backoff_base_seconds: float = Field(
        60.0, gt=0, validation_alias=_env("EMAIL_BACKOFF_BASE_SECONDS")
    )
    email_frequency_cap_count: int = Field(
        2, ge=0, validation_alias=_env("EMAIL_FREQUENCY_CAP_COUNT")
    )
    email_frequency_cap_days: int = Field(
        7, ge=1, le=365, validation_alias=_env("EMAIL_FREQUENCY_CAP_DAYS")
    )
    email_quiet_hours_start: int = Field(
        21, ge=0, le=23, validation_alias=_env("EMAIL_QUIET_HOURS_START")
    )
    email_quiet_hours_end: int = Field(
        8, ge=0, le=23, validation_alias=_env("EMAIL_QUIET_HOURS_END")
    )
    email_postal_address: str = Field("", validation_alias=_env("EMAIL_POSTAL_ADDRESS"))
    email_outbox_dir: Path | None = Field(None, validation_alias=_env("EMAIL_OUTBOX_DIR"))
    email_claim_timeout_seconds: int = Field(
        600, ge=10, validation_alias=_env("EMAIL_CLAIM_TIMEOUT_SECONDS")
    )
    email_batch_size: int = Field(50, ge=1, le=1000, validation_alias=_env("EMAIL_BATCH_SIZE"))
    email_portal_url: str = Field(
        "https://tutors.example.com", validation_alias=_env("EMAIL_PORTAL_URL")
    )

    # Analytics: star performers, first sessions, reliability (docs/analytics.md)
    analytics_window_days: int = Field(
        90, ge=7, le=3650, validation_alias=_env("ANALYTICS_WINDOW_DAYS")
    )
    analytics_min_sessions: int = Field(10, ge=1, validation_alias=_env("ANALYTICS_MIN_SESSIONS"))
    analytics_segment_share: float = Field(
        0.10, gt=0, lt=0.5, validation_alias=_env("ANALYTICS_SEGMENT_SHARE")
    )
    analytics_composite_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "rating": 0.25,
            "satisfaction": 0.15,
            "engagement": 0.15,
            "empathy": 0.15,
            "clarity": 0.15,
            "recommend": 0.15,
        },
        validation_alias=_env("ANALYTICS_COMPOSITE_WEIGHTS"),
    )
    analytics_fdr: float = Field(0.05, gt=0, lt=1, validation_alias=_env("ANALYTICS_FDR"))
    analytics_poor_first_rating_max: int = Field(
        2, ge=1, le=4, validation_alias=_env("ANALYTICS_POOR_FIRST_RATING_MAX")
    )
    analytics_first_session_days: int = Field(
        365, ge=30, le=3650, validation_alias=_env("ANALYTICS_FIRST_SESSION_DAYS")
    )
    analytics_churn_lag_days: int = Field(
        14, ge=0, le=365, validation_alias=_env("ANALYTICS_CHURN_LAG_DAYS")
    )
    analytics_churn_exposure_days: int = Field(
        88, ge=1, le=730, validation_alias=_env("ANALYTICS_CHURN_EXPOSURE_DAYS")
    )
    analytics_cache_seconds: int = Field(
        300, ge=0, le=86400, validation_alias=_env("ANALYTICS_CACHE_SECONDS")
    )

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
    # Student no-show levels: about 2x and 4x the measured base rate (docs/risk.md).
    risk_student_noshow_medium_threshold: float = Field(
        0.07, gt=0, lt=1, validation_alias=_env("RISK_STUDENT_NOSHOW_MEDIUM_THRESHOLD")
    )
    risk_student_noshow_high_threshold: float = Field(
        0.14, gt=0, lt=1, validation_alias=_env("RISK_STUDENT_NOSHOW_HIGH_THRESHOLD")
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
    # Drivers of a boosting model cost one extra prediction per topic; "medium" limits
    # them to Medium/High scores when a full rescore must be faster. Logistic models
    # always explain every score (one matrix product).
    risk_boosting_drivers: Literal["all", "medium"] = Field(
        "all", validation_alias=_env("RISK_BOOSTING_DRIVERS")
    )
    # Days of daily churn-score history kept for the alerts backtest (0 keeps none).
    risk_score_history_days: int = Field(
        400, ge=0, le=3650, validation_alias=_env("RISK_SCORE_HISTORY_DAYS")
    )

    # --- Alerts (issue 7) ---
    alerts_inhibition: bool = Field(True, validation_alias=_env("ALERTS_INHIBITION"))
    alerts_full_pass_minutes: int = Field(
        15, ge=1, le=1440, validation_alias=_env("ALERTS_FULL_PASS_MINUTES")
    )
    alerts_first_session_hours: int = Field(
        48, ge=1, le=720, validation_alias=_env("ALERTS_FIRST_SESSION_HOURS")
    )
    alerts_noshow_hours: int = Field(72, ge=1, le=720, validation_alias=_env("ALERTS_NOSHOW_HOURS"))
    alerts_trend_sessions: int = Field(
        10, ge=3, le=100, validation_alias=_env("ALERTS_TREND_SESSIONS")
    )
    alerts_trend_min_sessions: int = Field(
        6, ge=3, le=100, validation_alias=_env("ALERTS_TREND_MIN_SESSIONS")
    )
    alerts_trend_days: int = Field(90, ge=7, le=730, validation_alias=_env("ALERTS_TREND_DAYS"))
    alerts_max_limit: int = Field(500, ge=1, le=5000, validation_alias=_env("ALERTS_MAX_LIMIT"))
    alerts_backtest_days: int = Field(
        56, ge=1, le=730, validation_alias=_env("ALERTS_BACKTEST_DAYS")
    )
    alerts_backtest_step_days: int = Field(
        7, ge=1, le=31, validation_alias=_env("ALERTS_BACKTEST_STEP_DAYS")
    )

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
