"""The email template registry: what each template needs and where each value comes from.

Every template has a key (file names under ``email/templates/``), the name the
original platform used, the variables it needs and sample values for previews.
Variables share one vocabulary (``VARIABLES``): a name means the same thing in
every template, is checked the same way, and is filled from the tutor's data by
``email.facts`` the same way. ``source`` says how, in words, for the docs and
the preview page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["text", "int", "number", "ratio", "url", "choice"]


@dataclass(frozen=True)
class Variable:
    name: str
    kind: Kind
    description: str
    source: str  # how the value is filled from the tutor's data ("given" when it is not)
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class EmailTemplate:
    key: str
    original_name: str
    intervention_type: str
    description: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    sample: Mapping[str, Any] = field(default_factory=dict)

    @property
    def variables(self) -> tuple[str, ...]:
        return self.required + self.optional


QUALITY_ALERT_TYPES = ("low_rating", "poor_engagement", "low_empathy", "clarity_issues")
ENGAGEMENT_ISSUES = ("no_login", "no_sessions", "declining_engagement")

# Policy targets, not measurements: the thresholds the original platform's rules
# and templates used. A caller may pass its own value instead.
QUALITY_BENCHMARKS = {
    "low_rating": 4.5,
    "poor_engagement": 6.0,
    "low_empathy": 6.5,
    "clarity_issues": 6.5,
}
TARGET_ENGAGEMENT = 6.0
TARGET_RESCHEDULE_RATE = 0.15

# Paths on the tutor-facing site (EMAIL_PORTAL_URL) that action links open.
PORTAL_PATHS = {
    "loginUrl": "/login",
    "dashboardUrl": "/dashboard",
    "sessionsUrl": "/sessions",
    "resourcesUrl": "/resources/engagement",
    "supportUrl": "/support",
    "prepGuideUrl": "/resources/first-session",
    "trainingUrl": "/training/first-sessions",
    "availabilityUrl": "/availability",
}

_W30 = "over the 30 days before sending"


def _v(name: str, kind: Kind, description: str, source: str, *choices: str) -> Variable:
    return Variable(name, kind, description, source, tuple(choices))


VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in (
        _v("tutorName", "text", "The tutor's name", "tutor.name"),
        _v(
            "daysSinceLogin",
            "int",
            "Whole days since the last login",
            "now − tutor.last_login_at, in whole days",
        ),
        _v("daysSinceLastLogin", "int", "Whole days since the last login", "as daysSinceLogin"),
        _v(
            "lastSessionDate",
            "text",
            "Date of the last completed session (tutor's local date)",
            "latest completed session's scheduled start, in tutor.timezone",
        ),
        _v(
            "daysSinceLastSession",
            "int",
            "Whole days since the last completed session",
            "now − latest completed session's scheduled start",
        ),
        _v(
            "daysSinceActive",
            "int",
            "Whole days since the last login or completed session",
            "now − the later of last login and last completed session",
        ),
        _v("daysSinceLastActivity", "int", "As daysSinceActive", "as daysSinceActive"),
        _v(
            "issueType",
            "choice",
            "Which engagement problem the email is about",
            "no_login when the last login is ≥ 7 days old, else no_sessions when no "
            "session was completed in 14 days, else declining_engagement",
            *ENGAGEMENT_ISSUES,
        ),
        _v(
            "sessionsLast14d",
            "int",
            "Completed sessions in the last 14 days",
            "count of completed sessions scheduled in the 14 days before sending",
        ),
        _v(
            "sessionsPrior14d",
            "int",
            "Completed sessions in the 14 days before that",
            "count of completed sessions scheduled 28 to 14 days before sending",
        ),
        _v(
            "alertType",
            "choice",
            "Which quality metric the email is about",
            "given (the reason for writing)",
            *QUALITY_ALERT_TYPES,
        ),
        _v(
            "metricValue",
            "number",
            "The tutor's value of that metric",
            f"mean student rating (low_rating) or mean engagement / empathy / clarity score {_W30}",
        ),
        _v(
            "benchmark",
            "number",
            "The target for that metric",
            "policy target: rating 4.5, engagement 6.0, empathy 6.5, clarity 6.5",
        ),
        _v(
            "recentSessionCount",
            "int",
            "Sessions the metric is computed from",
            f"sessions with that metric recorded {_W30}",
        ),
        _v(
            "issueRate",
            "ratio",
            "Share of recent sessions with a technical issue",
            f"sessions flagged with a technical issue ÷ sessions with the flag recorded {_W30}",
        ),
        _v(
            "recentSessionsWithIssues",
            "int",
            "Recent sessions with a technical issue",
            f"sessions flagged with a technical issue {_W30}",
        ),
        _v(
            "totalRecentSessions",
            "int",
            "Recent sessions with the technical-issue flag recorded",
            f"sessions with the technical-issue flag recorded {_W30}",
        ),
        _v(
            "studentName",
            "text",
            "The student's name",
            "given (the data holds no student names)",
        ),
        _v(
            "sessionDate",
            "text",
            "Date of the next first session (tutor's local date)",
            "the tutor's next scheduled first session, in tutor.timezone",
        ),
        _v(
            "sessionTime",
            "text",
            "Start time of that session (tutor's local time)",
            "the tutor's next scheduled first session, in tutor.timezone",
        ),
        _v("subject", "text", "Subject of that session", "that session's subject"),
        _v("gradeLevel", "text", "The student's grade level", "that session's student"),
        _v(
            "totalSessionsCompleted",
            "int",
            "Completed sessions, all time",
            "count of the tutor's completed sessions",
        ),
        _v("totalSessions", "int", "Completed sessions, all time", "as totalSessionsCompleted"),
        _v(
            "totalStudents",
            "int",
            "Distinct students taught",
            "distinct students of the tutor's completed sessions",
        ),
        _v(
            "averageRating",
            "number",
            "Mean student rating, all time",
            "mean student rating of every rated session",
        ),
        _v(
            "ratedSessions",
            "int",
            "Rated sessions, all time",
            "count of sessions with a student rating",
        ),
        _v(
            "currentEngagement",
            "number",
            "Mean engagement score (1–10)",
            f"mean engagement score {_W30}",
        ),
        _v("targetEngagement", "number", "Engagement target", "policy target 6.0"),
        _v(
            "firstSessionRating",
            "number",
            "Mean student rating of first sessions",
            "mean rating of the tutor's rated first sessions",
        ),
        _v(
            "firstSessionCount",
            "int",
            "Rated first sessions",
            "count of the tutor's rated first sessions",
        ),
        _v(
            "rescheduleRate",
            "ratio",
            "Share of sessions the tutor rescheduled",
            f"sessions rescheduled by the tutor ÷ sessions with an outcome {_W30}",
        ),
        _v(
            "rescheduleCount",
            "int",
            "Sessions the tutor rescheduled",
            f"sessions rescheduled by the tutor {_W30}",
        ),
        _v(
            "sessionsWithOutcome",
            "int",
            "Sessions with an outcome",
            f"sessions with any outcome other than still scheduled {_W30}",
        ),
        _v("targetRate", "ratio", "Reschedule-rate target", "policy target 15%"),
        _v(
            "performanceScore",
            "number",
            "Mean student rating over 30 days",
            f"mean student rating {_W30}",
        ),
        _v(
            "rank",
            "int",
            "Position among tutors by 30-day mean rating",
            "1 + tutors with a higher 30-day mean rating (tutors with a rating in 30 days)",
        ),
        _v(
            "rankedTutors",
            "int",
            "Tutors ranked",
            "tutors with at least one student rating in the 30 days before sending",
        ),
        _v("specialRecognition", "text", "A personal note", "given"),
        *(
            _v(name, "url", f"Link to {path} on the tutor site", f"EMAIL_PORTAL_URL + {path}")
            for name, path in PORTAL_PATHS.items()
        ),
        _v(
            "actionUrl",
            "url",
            "The call-to-action link",
            "EMAIL_PORTAL_URL + /login, /sessions or /dashboard by issueType",
        ),
    )
}

_SAMPLE_COMMON = {"tutorName": "Ada Lovelace"}


def _t(
    key: str,
    original: str,
    itype: str,
    description: str,
    required: tuple[str, ...],
    sample: dict[str, Any],
    optional: tuple[str, ...] = (),
) -> EmailTemplate:
    return EmailTemplate(
        key, original, itype, description, required, optional, {**_SAMPLE_COMMON, **sample}
    )


_PORTAL = "https://tutors.example.com"

TEMPLATES: dict[str, EmailTemplate] = {
    t.key: t
    for t in (
        # The original platform's five React-Email templates.
        _t(
            "engagement_alert",
            "EngagementAlert",
            "engagement",
            "An invitation back: no login, no sessions or declining sessions (three variants)",
            ("tutorName", "issueType", "actionUrl"),
            {
                "issueType": "no_login",
                "daysSinceLastLogin": 9,
                "daysSinceLastSession": 12,
                "sessionsLast14d": 2,
                "sessionsPrior14d": 6,
                "actionUrl": f"{_PORTAL}/login",
            },
            ("daysSinceLastLogin", "daysSinceLastSession", "sessionsLast14d", "sessionsPrior14d"),
        ),
        _t(
            "quality_alert",
            "QualityAlert",
            "quality",
            "A supportive note on one quality metric against its target, with tips",
            ("tutorName", "alertType", "metricValue", "benchmark", "recentSessionCount"),
            {
                "alertType": "low_rating",
                "metricValue": 3.9,
                "benchmark": 4.5,
                "recentSessionCount": 14,
                "dashboardUrl": f"{_PORTAL}/dashboard",
            },
            ("dashboardUrl",),
        ),
        _t(
            "technical_issues",
            "TechnicalIssues",
            "technical",
            "Technical support offer after sessions with technical issues",
            ("tutorName", "issueRate", "recentSessionsWithIssues", "totalRecentSessions"),
            {
                "issueRate": 0.25,
                "recentSessionsWithIssues": 4,
                "totalRecentSessions": 16,
                "supportUrl": f"{_PORTAL}/support",
            },
            ("supportUrl",),
        ),
        _t(
            "first_session_reminder",
            "FirstSessionReminder",
            "first_session",
            "Reminder of an upcoming first session with prep tips",
            ("tutorName", "sessionDate", "sessionTime", "subject", "gradeLevel"),
            {
                "sessionDate": "Tuesday, March 4",
                "sessionTime": "4:30 PM",
                "subject": "Math",
                "gradeLevel": "high school",
                "prepGuideUrl": f"{_PORTAL}/resources/first-session",
            },
            ("prepGuideUrl",),
        ),
        _t(
            "re_engagement",
            "ReEngagement",
            "re_engagement",
            "We miss you: the tutor's own record and a link to open sessions",
            ("tutorName", "daysSinceLastActivity", "totalSessionsCompleted"),
            {
                "daysSinceLastActivity": 21,
                "totalSessionsCompleted": 148,
                "averageRating": 4.6,
                "ratedSessions": 97,
                "sessionsUrl": f"{_PORTAL}/sessions",
            },
            ("averageRating", "ratedSessions", "sessionsUrl"),
        ),
        # The eight intervention templates.
        _t(
            "engagement_no_login_7d",
            "engagement_no_login_7d",
            "engagement",
            "A week or more without a login",
            ("tutorName", "daysSinceLogin", "loginUrl"),
            {
                "daysSinceLogin": 8,
                "lastSessionDate": "February 19, 2025",
                "loginUrl": f"{_PORTAL}/login",
            },
            ("lastSessionDate",),
        ),
        _t(
            "quality_low_engagement",
            "quality_low_engagement",
            "quality",
            "Engagement scores below target: ideas to lift them",
            ("tutorName", "currentEngagement", "targetEngagement", "resourcesUrl"),
            {
                "currentEngagement": 5.4,
                "targetEngagement": 6.0,
                "recentSessionCount": 11,
                "resourcesUrl": f"{_PORTAL}/resources/engagement",
            },
            ("recentSessionCount",),
        ),
        _t(
            "technical_issues_spike",
            "technical_issues_spike",
            "technical",
            "Many recent sessions with technical issues: offer of help",
            ("tutorName", "issueRate", "supportUrl"),
            {
                "issueRate": 0.22,
                "recentSessionsWithIssues": 5,
                "totalRecentSessions": 23,
                "supportUrl": f"{_PORTAL}/support",
            },
            ("recentSessionsWithIssues", "totalRecentSessions"),
        ),
        _t(
            "first_session_prep",
            "first_session_prep",
            "first_session",
            "Preparing for a first session with a new student",
            ("tutorName", "sessionDate", "sessionTime", "subject", "gradeLevel", "prepGuideUrl"),
            {
                "studentName": "Sam",
                "sessionDate": "Tuesday, March 4",
                "sessionTime": "4:30 PM",
                "subject": "Chemistry",
                "gradeLevel": "high school",
                "prepGuideUrl": f"{_PORTAL}/resources/first-session",
            },
            ("studentName",),
        ),
        _t(
            "reengagement_14d",
            "reengagement_14d",
            "reengagement",
            "Two weeks or more without activity: come back",
            ("tutorName", "daysSinceActive", "totalSessions", "totalStudents", "dashboardUrl"),
            {
                "daysSinceActive": 16,
                "totalSessions": 212,
                "totalStudents": 37,
                "dashboardUrl": f"{_PORTAL}/dashboard",
            },
        ),
        _t(
            "quality_poor_first_session",
            "quality_poor_first_session",
            "quality",
            "First-session ratings below target: training offer",
            ("tutorName", "firstSessionRating", "firstSessionCount", "trainingUrl"),
            {
                "firstSessionRating": 3.2,
                "firstSessionCount": 5,
                "trainingUrl": f"{_PORTAL}/training/first-sessions",
            },
        ),
        _t(
            "reliability_high_reschedule",
            "reliability_high_reschedule",
            "reliability",
            "Many tutor-initiated reschedules: let's talk about your schedule",
            ("tutorName", "rescheduleRate", "targetRate", "availabilityUrl"),
            {
                "rescheduleRate": 0.21,
                "targetRate": 0.15,
                "rescheduleCount": 6,
                "sessionsWithOutcome": 29,
                "availabilityUrl": f"{_PORTAL}/availability",
            },
            ("rescheduleCount", "sessionsWithOutcome"),
        ),
        _t(
            "positive_recognition",
            "positive_recognition",
            "recognition",
            "Recognition for a top-rated tutor",
            ("tutorName", "performanceScore", "rank", "rankedTutors", "recentSessionCount"),
            {
                "performanceScore": 4.93,
                "rank": 12,
                "rankedTutors": 1480,
                "recentSessionCount": 41,
                "specialRecognition": "Three students asked to book you again this month.",
                "dashboardUrl": f"{_PORTAL}/dashboard",
            },
            ("specialRecognition", "dashboardUrl"),
        ),
    )
}

# GET /api/email-preview?template= names of the original platform.
PREVIEW_ALIASES = {
    "engagement": "engagement_alert",
    "quality": "quality_alert",
    "technical": "technical_issues",
    "first-session": "first_session_reminder",
    "re-engagement": "re_engagement",
}

assert all(v in VARIABLES for t in TEMPLATES.values() for v in t.variables), "unknown variable"
assert all(set(t.required) <= set(t.sample) for t in TEMPLATES.values()), "sample incomplete"


def get_template(key: str) -> EmailTemplate | None:
    """The template with ``key`` (or an original preview name such as ``first-session``)."""
    return TEMPLATES.get(PREVIEW_ALIASES.get(key, key))


def template_names() -> list[str]:
    """Every name the preview endpoint accepts: original names first, then keys."""
    return list(PREVIEW_ALIASES) + list(TEMPLATES)
