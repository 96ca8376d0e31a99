"""Acceptance on generated worlds: held-out AUC against the planted truth and the
original's rules. Run with ``-s`` to see the figures."""

from __future__ import annotations

import pytest
from sklearn.metrics import roc_auc_score
from tests.unit.risk.conftest import DAYS, world_frames
from tests.unit.risk.oracle import churn_hazard_oracle, noshow_oracle

from tutorpulse.core.settings import Settings
from tutorpulse.risk import service
from tutorpulse.risk.frames import DAY

SEEDS = [2, 3]


def _settings() -> Settings:
    return Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize("seed", SEEDS)
def test_churn_model_on_held_out_period(seed: int) -> None:
    frames, truth = world_frames(seed)
    settings = _settings()
    result = service.fit_target(
        frames, target="churn", start_ts=frames.end_ts - DAYS * DAY, settings=settings
    )
    test = result.test
    cutoff = int(test["cutoff"].iloc[0])
    hazard, state = churn_hazard_oracle(
        frames, truth, test, cutoff, settings.risk_churn_horizon_days
    )
    y = test["label"].to_numpy()
    held = result.metrics["heldOut"]
    auc, base_auc = held["auc"], result.metrics["baseline"]["auc"]
    hazard_auc = roc_auc_score(y, hazard)
    state_auc = roc_auc_score(y, state)
    print(
        f"\nchurn seed {seed}: n={held['n']} positives={held['positives']} "
        f"model={result.model.algorithm} AUC={auc:.3f} PR-AUC={held['prAuc']:.3f} "
        f"Brier={held['brier']:.4f} (base rate {held['brierBaseRate']:.4f}) "
        f"lift@10%={held['liftTopDecile']:.2f} | original rule AUC={base_auc:.3f} | "
        f"hazard oracle AUC={hazard_auc:.3f} | latent-state oracle AUC={state_auc:.3f}"
    )
    assert auc >= 0.80
    assert auc >= hazard_auc - 0.05
    assert auc >= base_auc + 0.10
    assert held["brier"] < held["brierBaseRate"]


@pytest.mark.parametrize("seed", SEEDS)
def test_noshow_model_on_held_out_sessions(seed: int) -> None:
    frames, truth = world_frames(seed)
    result = service.fit_target(
        frames, target="tutor_no_show", start_ts=frames.end_ts - DAYS * DAY, settings=_settings()
    )
    test = result.test
    y = test["label"].to_numpy()
    held = result.metrics["heldOut"]
    auc, base_auc = held["auc"], result.metrics["baseline"]["auc"]
    oracle_auc = roc_auc_score(y, noshow_oracle(truth, test))
    print(
        f"\nno-show seed {seed}: sessions={held['n']} no-shows={held['positives']} "
        f"model={result.model.algorithm} AUC={auc:.3f} PR-AUC={held['prAuc']:.4f} "
        f"Brier={held['brier']:.5f} (base rate {held['brierBaseRate']:.5f}) | "
        f"original rule AUC={base_auc:.3f} | oracle AUC={oracle_auc:.3f}"
    )
    assert auc >= oracle_auc - 0.05
    assert auc >= base_auc + 0.05
    assert held["brier"] < held["brierBaseRate"]
