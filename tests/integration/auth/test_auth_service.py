"""core.auth and core.audit on a real database: users, passwords, sessions, API keys, audit."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tutorpulse.core import auth
from tutorpulse.core.audit import SYSTEM_ACTOR, Actor, list_audit, record_audit
from tutorpulse.core.errors import Conflict, Invalid, NotFound
from tutorpulse.core.models import ApiKey, User

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
PASSWORD = "a sufficiently long password"


def test_create_user_hashes_with_argon2id_and_normalises_email(db: Session) -> None:
    user = auth.create_user(
        db, email="  Ana@Example.TEST ", password=PASSWORD, role="coach", name=" Ana "
    )
    assert user.email == "ana@example.test"
    assert user.name == "Ana"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert auth.verify_password(user.password_hash, PASSWORD)
    assert not auth.verify_password(user.password_hash, PASSWORD + "x")
    assert not auth.verify_password("not a hash", PASSWORD)


@pytest.mark.parametrize(
    ("email", "password", "role", "field"),
    [
        ("a@example.test", PASSWORD, "superuser", "role"),
        ("a@example.test", "short", "viewer", "password"),
        ("not-an-email", PASSWORD, "viewer", "email"),
    ],
)
def test_create_user_rejects_bad_input(
    db: Session, email: str, password: str, role: str, field: str
) -> None:
    with pytest.raises(Invalid) as err:
        auth.create_user(db, email=email, password=password, role=role)
    assert err.value.details[0].field == field


def test_duplicate_email_is_a_conflict_case_insensitively(db: Session) -> None:
    auth.create_user(db, email="dup@example.test", password=PASSWORD, role="viewer")
    with pytest.raises(Conflict):
        auth.create_user(db, email="DUP@example.test", password=PASSWORD, role="admin")


def test_authenticate_user(db: Session) -> None:
    user = auth.create_user(db, email="bo@example.test", password=PASSWORD, role="analyst")
    assert auth.authenticate_user(db, email="bo@example.test", password="nope", now=NOW) is None
    assert auth.authenticate_user(db, email="zed@example.test", password=PASSWORD, now=NOW) is None
    found = auth.authenticate_user(db, email="BO@example.test", password=PASSWORD, now=NOW)
    assert found is not None
    assert found.id == user.id
    assert found.last_login_at == NOW
    user.is_active = False
    assert auth.authenticate_user(db, email="bo@example.test", password=PASSWORD, now=NOW) is None


def test_role_scopes() -> None:
    assert auth.ROLE_SCOPES["viewer"] == {"read"}
    assert auth.ROLE_SCOPES["analyst"] == {"read"}
    assert auth.ROLE_SCOPES["coach"] == {"read", "write"}
    assert auth.ROLE_SCOPES["admin"] == set(auth.SCOPES)
    admin = Actor(kind="user", id=1, name="a", role="admin", scopes=auth.ROLE_SCOPES["admin"])
    assert admin.has_scope("ingest")
    key_actor = Actor(kind="api_key", id=2, name="k", scopes=frozenset({"admin"}))
    assert key_actor.has_scope("write")  # the admin scope implies every scope
    with pytest.raises(ValueError, match="unknown actor kind"):
        Actor(kind="robot", id=None, name="r")


def test_web_session_lifecycle(db: Session) -> None:
    user = auth.create_user(db, email="cy@example.test", password=PASSWORD, role="viewer")
    session, token = auth.start_web_session(db, user=user, now=NOW, max_age_seconds=600)
    assert session.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert len(session.csrf_token) >= 32
    assert session.csrf_token != token
    found = auth.resolve_web_session(db, token=token, now=NOW + timedelta(seconds=599))
    assert found is not None
    assert found[1].id == user.id
    assert auth.resolve_web_session(db, token=token, now=NOW + timedelta(seconds=600)) is None
    assert auth.resolve_web_session(db, token="forged", now=NOW) is None
    auth.end_web_session(db, session_id=session.id, now=NOW)
    assert auth.resolve_web_session(db, token=token, now=NOW) is None


def test_deactivated_user_loses_live_sessions(db: Session) -> None:
    user = auth.create_user(db, email="di@example.test", password=PASSWORD, role="viewer")
    _session, token = auth.start_web_session(db, user=user, now=NOW, max_age_seconds=600)
    user.is_active = False
    db.flush()
    assert auth.resolve_web_session(db, token=token, now=NOW) is None


def test_api_key_lifecycle(db: Session) -> None:
    key, plaintext = auth.create_api_key(db, name="ingest bot", scopes=["ingest", "ingest"])
    assert plaintext.startswith("tp_")
    assert len(plaintext) > 40
    assert key.scopes == ["ingest"]
    assert key.prefix == plaintext[:11]
    stored = db.scalar(select(ApiKey.key_hash).where(ApiKey.id == key.id))
    assert stored == hashlib.sha256(plaintext.encode()).hexdigest()
    found = auth.authenticate_api_key(db, token=plaintext, now=NOW)
    assert found is not None
    assert found.last_used_at == NOW
    assert auth.authenticate_api_key(db, token="tp_" + "x" * 43, now=NOW) is None
    revoked = auth.revoke_api_key(db, key_id=key.id)
    assert revoked.revoked_at is not None
    assert auth.revoke_api_key(db, key_id=key.id).revoked_at == revoked.revoked_at  # idempotent
    assert auth.authenticate_api_key(db, token=plaintext, now=NOW) is None
    with pytest.raises(NotFound):
        auth.revoke_api_key(db, key_id=999_999)


@pytest.mark.parametrize(("name", "scopes"), [("", ["read"]), ("x", []), ("x", ["root"])])
def test_api_key_validation(db: Session, name: str, scopes: list[str]) -> None:
    with pytest.raises(Invalid):
        auth.create_api_key(db, name=name, scopes=scopes)


def test_record_and_list_audit(db: Session) -> None:
    user = auth.create_user(db, email="au@example.test", password=PASSWORD, role="admin")
    actor = auth.actor_for_user(user)
    first = record_audit(db, actor=SYSTEM_ACTOR, action="probe.one")
    second = record_audit(
        db,
        actor=actor,
        action="probe.two",
        target_type="tutor",
        target_id="T0001",
        details={"field": "status"},
        request_id="req-1",
    )
    assert (second.actor_type, second.actor_id, second.actor_name) == ("user", user.id, user.email)
    rows, total = list_audit(db, limit=10, offset=0)
    assert total >= 2
    ids = [r.id for r in rows]
    assert ids.index(second.id) < ids.index(first.id)  # newest first
    assert second.details == {"field": "status"}
    assert second.request_id == "req-1"
    page, _ = list_audit(db, limit=1, offset=0)
    assert len(page) == 1


def test_users_list_is_sorted(db: Session) -> None:
    auth.create_user(db, email="zz@example.test", password=PASSWORD, role="viewer")
    auth.create_user(db, email="aa@example.test", password=PASSWORD, role="viewer")
    emails = [u.email for u in auth.list_users(db)]
    assert emails == sorted(emails)
    assert isinstance(auth.list_users(db)[0], User)
