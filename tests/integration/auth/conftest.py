"""Cheap (but real) argon2 parameters for the auth service tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher

from tutorpulse.core import auth


@pytest.fixture(autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    auth.set_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    auth.set_password_hasher(PasswordHasher())
