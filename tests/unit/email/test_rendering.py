"""Email templates: every one renders, strict variables, escaping, inlined CSS, true copy."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup

from tutorpulse.core.errors import Invalid, NotFound
from tutorpulse.email.catalog import PREVIEW_ALIASES, TEMPLATES, VARIABLES, get_template
from tutorpulse.email.facts import (
    TutorFacts,
    UpcomingSession,
    coerce,
    engagement_issue,
    fill_variables,
)
from tutorpulse.email.rendering import TEMPLATES_DIR, Footer, render_email

FOOTER = Footer(unsubscribe_url="https://tp.example.test/u/TOKEN", postal_address="1 Test St")
NOW = datetime(2025, 3, 1, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("key", list(TEMPLATES))
def test_every_template_renders_subject_html_and_text(key: str) -> None:
    rendered = render_email(key, TEMPLATES[key].sample, footer=FOOTER)
    assert rendered.subject
    assert "\n" not in rendered.subject
    assert "Ada Lovelace" in rendered.subject + rendered.text
    soup = BeautifulSoup(rendered.html, "html.parser")
    assert soup.find("style") is None
    assert "padding" in str(soup.find("div", class_="content").get("style"))  # type: ignore[union-attr]
    assert soup.find("a", href="https://tp.example.test/u/TOKEN", string="Unsubscribe")
    assert "1 Test St" in soup.get_text()
    assert "Unsubscribe: https://tp.example.test/u/TOKEN" in rendered.text
    assert "1 Test St" in rendered.text
    for part in (rendered.subject, rendered.html, rendered.text):
        assert "{{" not in part
        assert "None" not in part
    assert "\n\n\n" not in rendered.text


@pytest.mark.parametrize(
    ("key", "name"), [(k, n) for k, t in TEMPLATES.items() for n in t.required]
)
def test_a_missing_required_variable_is_invalid_and_named(key: str, name: str) -> None:
    variables = {k: v for k, v in TEMPLATES[key].sample.items() if k != name}
    with pytest.raises(Invalid) as caught:
        render_email(key, variables, footer=FOOTER)
    assert [d.field for d in caught.value.details] == [name]


def test_optional_variables_may_be_left_out() -> None:
    template = TEMPLATES["technical_issues_spike"]
    required = {k: template.sample[k] for k in template.required}
    text = render_email(template.key, required, footer=FOOTER).text
    assert "22% of your recent sessions had a technical issue." in text


def test_values_are_escaped_in_html_but_not_in_text() -> None:
    sample = {**TEMPLATES["re_engagement"].sample, "tutorName": "<script>x</script> & Co"}
    rendered = render_email("re_engagement", sample, footer=FOOTER)
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;x&lt;/script&gt; &amp; Co" in rendered.html
    assert "Hi <script>x</script> & Co," in rendered.text


def test_unknown_template() -> None:
    with pytest.raises(NotFound):
        render_email("nope", {})


@pytest.mark.parametrize(
    ("issue", "cta", "sentence"),
    [
        ("no_login", "Log in now", "It has been 9 days since you last logged in."),
        ("no_sessions", "View available sessions", "Your last completed session was 12 days ago."),
        (
            "declining_engagement",
            "View your dashboard",
            "You completed 2 sessions in the last 14 days, down from 6 in the 14 days before.",
        ),
    ],
)
def test_the_engagement_alert_has_three_variants(issue: str, cta: str, sentence: str) -> None:
    sample = {**TEMPLATES["engagement_alert"].sample, "issueType": issue}
    rendered = render_email("engagement_alert", sample, footer=FOOTER)
    assert sentence in rendered.text
    assert BeautifulSoup(rendered.html, "html.parser").find("a", string=cta) is not None


def test_copy_makes_no_claim_the_data_does_not_support() -> None:
    # A "decline" that is not one is not called a decline.
    sample = {
        **TEMPLATES["engagement_alert"].sample,
        "issueType": "declining_engagement",
        "sessionsLast14d": 7,
        "sessionsPrior14d": 5,
    }
    text = render_email("engagement_alert", sample, footer=FOOTER).text
    assert "You completed 7 sessions in the last 14 days." in text
    assert "down from" not in text
    # No percentage or statistic is written into a template's static copy: every
    # number a tutor reads comes from a variable.
    for path in TEMPLATES_DIR.glob("*.*"):
        if path.suffix == ".css":
            continue
        static = re.sub(r"{[{%#].*?[}%#]}", "", path.read_text(), flags=re.S)
        assert "%" not in static, path.name
        assert not re.search(r"\d+(\.\d+)?\s*(%|percent|x more|times)", static), path.name


def test_plural_and_singular() -> None:
    sample = {**TEMPLATES["engagement_no_login_7d"].sample, "daysSinceLogin": 1}
    assert "It has been 1 day since" in render_email("engagement_no_login_7d", sample).text


def test_original_preview_names_map_to_templates() -> None:
    assert {get_template(name).key for name in PREVIEW_ALIASES} == {  # type: ignore[union-attr]
        "engagement_alert",
        "quality_alert",
        "technical_issues",
        "first_session_reminder",
        "re_engagement",
    }
    assert len(TEMPLATES) == 13


# --------------------------------------------------------------------- facts → variables


def facts(**overrides: Any) -> TutorFacts:
    values: dict[str, Any] = {
        "now": NOW,
        "name": "Grace Hopper",
        "timezone": "America/New_York",
        "last_login_at": NOW - timedelta(days=8, hours=5),
        "last_session_at": NOW - timedelta(days=3),
        "completed_total": 120,
        "students_total": 31,
        "rating_avg_all": 4.4,
        "rated_all": 90,
        "completed_14d": 2,
        "completed_prior_14d": 5,
        "rating_avg_30d": 4.1,
        "rated_30d": 9,
        "engagement_avg_30d": 5.5,
        "engagement_n_30d": 8,
        "tech_issues_30d": 2,
        "tech_recorded_30d": 10,
        "outcomes_30d": 12,
        "tutor_reschedules_30d": 3,
        "first_rating_avg": 3.1,
        "first_rated": 4,
        "next_first_session": UpcomingSession(
            start=datetime(2025, 3, 4, 21, 30, tzinfo=UTC),
            subject="Chemistry",
            grade_level="high_school",
        ),
    }
    values.update(overrides)
    return TutorFacts(**values)


def test_variables_come_from_the_tutors_data() -> None:
    filled = fill_variables(
        TEMPLATES["first_session_prep"], facts(), portal_url="https://p.test/", given={}
    )
    assert filled == {
        "tutorName": "Grace Hopper",
        "sessionDate": "Tuesday, March 4",
        "sessionTime": "4:30 PM EST",
        "subject": "Chemistry",
        "gradeLevel": "high school",
        "prepGuideUrl": "https://p.test/resources/first-session",
    }
    reschedule = fill_variables(
        TEMPLATES["reliability_high_reschedule"], facts(), portal_url="https://p.test", given={}
    )
    assert reschedule["rescheduleRate"] == pytest.approx(3 / 12)
    assert (reschedule["rescheduleCount"], reschedule["sessionsWithOutcome"]) == (3, 12)
    no_login = fill_variables(
        TEMPLATES["engagement_no_login_7d"], facts(), portal_url="https://p.test", given={}
    )
    assert no_login["daysSinceLogin"] == 8
    assert no_login["lastSessionDate"] == "February 26, 2025"


def test_what_the_data_cannot_say_is_left_out_and_given_values_win() -> None:
    bare = facts(
        last_login_at=None, tech_recorded_30d=0, tech_issues_30d=0, next_first_session=None
    )
    filled = fill_variables(TEMPLATES["technical_issues"], bare, portal_url="https://p", given={})
    assert "issueRate" not in filled
    assert "totalRecentSessions" not in filled
    given = fill_variables(
        TEMPLATES["technical_issues"],
        bare,
        portal_url="https://p",
        given={"issueRate": 0.5, "recentSessionsWithIssues": 1, "totalRecentSessions": 2},
    )
    assert given["issueRate"] == 0.5
    assert "daysSinceLogin" not in fill_variables(
        TEMPLATES["engagement_no_login_7d"], bare, portal_url="https://p", given={}
    )


@pytest.mark.parametrize(
    ("login_days", "session_days", "expected"),
    [
        (8, 1, "no_login"),
        (None, 1, "no_login"),
        (2, 20, "no_sessions"),
        (2, None, "no_sessions"),
        (2, 3, "declining_engagement"),
    ],
)
def test_engagement_issue_is_chosen_from_data(
    login_days: int | None, session_days: int | None, expected: str
) -> None:
    f = facts(
        last_login_at=None if login_days is None else NOW - timedelta(days=login_days),
        last_session_at=None if session_days is None else NOW - timedelta(days=session_days),
    )
    assert engagement_issue(f) == expected


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("issueRate", 1.5, "between 0 and 1"),
        ("issueRate", "a lot", "must be a number"),
        ("daysSinceLogin", 2.5, "whole number"),
        ("daysSinceLogin", True, "must be a number"),
        ("tutorName", 7, "must be a string"),
        ("loginUrl", "javascript:alert(1)", "http(s) URL"),
        ("alertType", "other", "one of"),
        ("tutorName", "x" * 501, "at most"),
    ],
)
def test_given_values_are_checked(name: str, value: Any, message: str) -> None:
    with pytest.raises(Invalid) as caught:
        coerce(name, value)
    assert caught.value.details[0].field == name
    assert message in caught.value.details[0].message


def test_every_variable_is_documented() -> None:
    for variable in VARIABLES.values():
        assert variable.description
        assert variable.source
