"""The generator (standalone by design) speaks exactly the import contract's vocabulary."""

from __future__ import annotations

from tutorpulse.tutors import vocabulary as contract
from tutorpulse.world import config


def test_world_vocabularies_are_the_contracts() -> None:
    assert config.SESSION_STATUSES == contract.SESSION_STATUSES
    assert config.INITIATORS == contract.INITIATOR
    assert config.TUTOR_STATUSES == contract.TUTOR_STATUSES
    assert config.CERTIFICATION_LEVELS == contract.CERTIFICATION_LEVELS
    assert config.GRADE_LEVELS == contract.GRADE_LEVELS
    assert set(config.EVENT_TYPES) <= set(contract.EVENT_TYPES)
