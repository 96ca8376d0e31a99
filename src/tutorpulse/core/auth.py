"""Users, passwords, dashboard sessions and API keys (no web framework here).

Passwords are hashed with argon2id. Dashboard session tokens and API keys are
random secrets handed to the client once; only their SHA-256 is stored, so a
leaked database does not leak working credentials.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutorpulse.core.audit import Actor
from tutorpulse.core.clock import utcnow
from tutorpulse.core.errors import Conflict, ErrorDetail, Invalid, NotFound
from tutorpulse.core.models import ApiKey, User, WebSession

ROLES = ("admin", "coach", "analyst", "viewer")
SCOPES = ("read", "write", "ingest", "admin")

# What a dashboard login may do on /api routes. Ingest stays with API keys:
# no role includes it except admin (whose admin scope implies every scope).
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "analyst": frozenset({"read"}),
    "coach": frozenset({"read", "write"}),
    "admin": frozenset(SCOPES),
}

MIN_PASSWORD_LENGTH = 10
API_KEY_PREFIX = "tp_"
# Updating last_seen_at on every request would turn every page view into a write.
SESSION_TOUCH_INTERVAL = timedelta(minutes=1)

_hasher = PasswordHasher()


def set_password_hasher(hasher: PasswordHasher) -> None:
    """Replace the argon2 parameters (tests use cheaper ones; production keeps the default)."""
    global _hasher
    _hasher = hasher
    _dummy_hash.cache_clear()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def token_hash(token: str) -> str:
    """The SHA-256 hex digest under which a session token or API key is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash``; never raises for a bad hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# --- users -------------------------------------------------------------------------


def _normalise_email(email: str) -> str:
    value = email.strip().lower()
    local, _, domain = value.partition("@")
    if not local or not domain or " " in value:
        raise Invalid.field("email", "must be an email address")
    return value


def create_user(db: Session, *, email: str, password: str, role: str, name: str = "") -> User:
    """Create a user with an argon2 password hash.

    Raises ``Invalid`` for a bad email, role or a password shorter than
    ``MIN_PASSWORD_LENGTH``, and ``Conflict`` when the email is taken.
    """
    address = _normalise_email(email)
    if role not in ROLES:
        raise Invalid.field("role", f"must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid.field("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if get_user_by_email(db, email=address) is not None:
        raise Conflict(
            f"A user with email {address} already exists", [ErrorDetail("email", "already exists")]
        )
    user = User(email=address, name=name.strip(), password_hash=hash_password(password), role=role)
    db.add(user)
    db.flush()
    return user


def get_user_by_email(db: Session, *, email: str) -> User | None:
    return db.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def list_users(db: Session) -> Sequence[User]:
    return db.scalars(select(User).order_by(User.email)).all()


def authenticate_user(db: Session, *, email: str, password: str, now: datetime) -> User | None:
    """The active user with this email and password, or None.

    Takes about as long for an unknown email as for a wrong password, so
    response times do not reveal which emails exist.
    """
    user = get_user_by_email(db, email=email)
    if user is None or not user.is_active:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    db.flush()
    return user


def actor_for_user(user: User) -> Actor:
    return Actor(
        kind="user",
        id=user.id,
        name=user.email,
        role=user.role,
        scopes=ROLE_SCOPES.get(user.role, frozenset()),
    )


# --- dashboard sessions ----------------------------------------------------------------


def start_web_session(
    db: Session, *, user: User, now: datetime, max_age_seconds: int
) -> tuple[WebSession, str]:
    """Open a session for ``user``; returns the row and the cookie token (shown once)."""
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=token_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + timedelta(seconds=max_age_seconds),
        last_seen_at=now,
    )
    db.add(row)
    db.flush()
    return row, token


def resolve_web_session(
    db: Session, *, token: str, now: datetime
) -> tuple[WebSession, User] | None:
    """The live session and its active user for a cookie token, or None.

    A session is live until it expires or is revoked; a deactivated user's
    sessions stop working at once.
    """
    row = db.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == token_hash(token))
    ).first()
    if row is None:
        return None
    session, user = row
    if session.revoked_at is not None or session.expires_at <= now or not user.is_active:
        return None
    if session.last_seen_at is None or now - session.last_seen_at >= SESSION_TOUCH_INTERVAL:
        session.last_seen_at = now
        db.flush()
    return session, user


def end_web_session(db: Session, *, session_id: int, now: datetime) -> None:
    """Revoke a dashboard session (logout); the cookie token stops working."""
    row = db.get(WebSession, session_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
        db.flush()


# --- API keys ----------------------------------------------------------------------------


def create_api_key(
    db: Session, *, name: str, scopes: list[str], created_by_id: int | None = None
) -> tuple[ApiKey, str]:
    """Create an API key; returns the row and the plaintext key (``tp_…``), shown once.

    Raises ``Invalid`` for an empty name, no scopes or an unknown scope.
    """
    label = name.strip()
    if not label:
        raise Invalid.field("name", "must not be empty")
    wanted = sorted(set(scopes))
    if not wanted:
        raise Invalid.field("scopes", f"give at least one of {', '.join(SCOPES)}")
    unknown = [s for s in wanted if s not in SCOPES]
    if unknown:
        raise Invalid.field(
            "scopes", f"unknown scope {', '.join(unknown)}; use {', '.join(SCOPES)}"
        )
    plaintext = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=label,
        prefix=plaintext[:11],
        key_hash=token_hash(plaintext),
        scopes=wanted,
        created_by_id=created_by_id,
        created_at=utcnow(),
    )
    db.add(key)
    db.flush()
    return key, plaintext


_revocation_listeners: list[Callable[[], None]] = []


def on_key_revoked(listener: Callable[[], None]) -> None:
    """Call ``listener`` whenever a key is revoked in this process (caches drop entries)."""
    _revocation_listeners.append(listener)


def revoke_api_key(db: Session, *, key_id: int) -> ApiKey:
    """Revoke a key (idempotent). Raises ``NotFound`` for an unknown id."""
    key = db.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.flush()
    for listener in _revocation_listeners:
        listener()
    return key


def list_api_keys(db: Session) -> Sequence[ApiKey]:
    return db.scalars(select(ApiKey).order_by(ApiKey.id)).all()


LAST_USED_RESOLUTION_SECONDS = 60


def authenticate_api_key(db: Session, *, token: str, now: datetime) -> ApiKey | None:
    """The unrevoked key for a bearer token, or None; records when it was last used."""
    if not token.startswith(API_KEY_PREFIX):
        return None
    key = db.scalar(select(ApiKey).where(ApiKey.key_hash == token_hash(token)))
    if key is None or key.revoked_at is not None:
        return None
    # Minute resolution is plenty and spares a write on nearly every request.
    last = key.last_used_at
    if last is None or (now - last).total_seconds() >= LAST_USED_RESOLUTION_SECONDS:
        key.last_used_at = now
        db.flush()
    return key


def actor_for_api_key(key: ApiKey) -> Actor:
    return Actor(kind="api_key", id=key.id, name=key.name, scopes=frozenset(key.scopes))
