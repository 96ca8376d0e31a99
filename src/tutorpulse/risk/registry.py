"""Model artifacts: a fitted ``RiskModel`` pickled into ``ModelVersion.artifact``.

Trust assumption: unpickling runs code, so an artifact must only ever come from
this application's own training job writing to its own database. Nothing loads
artifacts from files, uploads or other systems.
"""

from __future__ import annotations

import pickle

from tutorpulse.risk.model import RiskModel


def dump(model: RiskModel) -> bytes:
    return pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)


def load(blob: bytes) -> RiskModel:
    """Raises ValueError when the bytes are not a RiskModel."""
    model = pickle.loads(blob)  # noqa: S301 - see the module's trust assumption
    if not isinstance(model, RiskModel):
        raise ValueError("artifact is not a RiskModel")
    return model
