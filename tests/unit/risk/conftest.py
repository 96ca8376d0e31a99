"""Generated worlds shared by the risk unit tests (one per seed per test session)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from tutorpulse.risk.frames import Frames, frames_from_world
from tutorpulse.world.config import WorldConfig
from tutorpulse.world.generator import generate_world

NOW = datetime(2026, 6, 1, tzinfo=UTC)
TUTORS = 3000
DAYS = 365


@cache
def world_frames(
    seed: int, tutors: int = TUTORS, days: int = DAYS
) -> tuple[Frames, dict[str, Any]]:
    world = generate_world(WorldConfig(tutors=tutors, days=days, seed=seed, now=NOW))
    return frames_from_world(world), world.truth
