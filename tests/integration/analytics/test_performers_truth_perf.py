"""Star performers and reliability on generated worlds against their planted truth.

With effects on, the composite follows skill (quality) and reliability (lateness
lowers quality), so segments must be ordered on those latent traits and every
significant factor must point the way the traits imply. With planted effects off,
no behaviour is tied to the traits any more and the BH-adjusted factor list is
(nearly) empty. Reliability figures are checked against the world's calibration,
which ``truth.json`` computes from the same tables.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from scipy import stats as sps
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.integration.analytics import perf_world as pw
from tutorpulse.analytics import cache, service, snapshots

pytestmark = pytest.mark.slow
RELIABILITY_FACTORS = {
    "tutorNoShowRate",
    "tutorRescheduleRate",
    "tutorCancelRate",
    "avgLateMinutes",
}


def _performers(eng: Engine, database_url: str) -> dict[str, Any]:
    with Session(eng) as db:
        return service.get_performers(
            db, settings=pw.settings(database_url), now=pw.NOW, subject=None, limit=100_000
        )


def _segment_traits(body: dict[str, Any], truth: dict[str, Any]) -> pd.DataFrame:
    rows = [
        {"segment": seg, **truth["tutors"][t["tutorId"]]}
        for seg, part in body["segments"].items()
        for t in part["tutors"]
    ]
    return pd.DataFrame(rows)


def test_segments_are_ordered_on_the_traits_behind_the_score(
    planted: tuple[Any, Engine], database_url: str
) -> None:
    world, eng = planted
    body = _performers(eng, database_url)
    traits = _segment_traits(body, world.truth)
    by = traits.groupby("segment")[["skill_z", "reliability_z"]].mean()
    assert by.loc["star", "skill_z"] > by.loc["average", "skill_z"] > by.loc["lagging", "skill_z"]
    star = traits.loc[traits["segment"] == "star", "skill_z"]
    avg = traits.loc[traits["segment"] == "average", "skill_z"]
    assert sps.ttest_ind(star, avg, equal_var=False).pvalue < 1e-6
    assert by.loc["star", "reliability_z"] > by.loc["lagging", "reliability_z"]


def test_significant_factors_match_the_latent_traits(
    planted: tuple[Any, Engine], database_url: str
) -> None:
    _world, eng = planted
    body = _performers(eng, database_url)
    found = {(s["metric"], s["comparison"]) for s in body["significantFactors"]}
    # The reliability trait shows through tutor-side behaviour.
    assert {m for m, _c in found} & RELIABILITY_FACTORS
    for f in body["differentiatingFactors"]:
        for key, better in (("starVsAverage", True), ("laggingVsAverage", False)):
            c = f[key]
            if c["significant"] and c["higherIsBetter"] is not None:
                stars_or_laggards_better = (c["difference"] > 0) == c["higherIsBetter"]
                assert stars_or_laggards_better is better, (f["metric"], key)
    # Recommendations come only from significant factors.
    n_recs = sum(len(v) for v in body["recommendations"].values())
    assert n_recs <= 2 * len(found)


def test_null_world_has_nearly_no_significant_factors(
    null: tuple[Any, Engine], database_url: str
) -> None:
    _world, eng = null
    body = _performers(eng, database_url)
    assert len(body["significantFactors"]) <= 1, body["significantFactors"]
    tested = sum(1 for f in body["differentiatingFactors"]) * 2
    assert tested >= 14  # the family really was tested


def test_reliability_matches_the_world_calibration(
    planted: tuple[Any, Engine], database_url: str
) -> None:
    world, eng = planted
    achieved = world.truth["calibration"]["achieved"]
    with Session(eng) as db:
        body = service.get_reliability(
            db, settings=pw.settings(database_url), now=pw.NOW, threshold=0.15, days_ahead=7,
            limit=50,
        )  # fmt: skip
    share = body["reschedules"]["tutorInitiatedShare"]
    assert share == pytest.approx(achieved["tutor_reschedule_share"], abs=5e-4)
    lo, hi = body["reschedules"]["tutorInitiatedShareCi"]
    assert lo < share < hi
    repl = body["replacements"]
    assert repl["total"] == achieved["tutor_replacements"]
    assert repl["noShowShare"] == pytest.approx(achieved["no_show_replacement_share"], abs=5e-4)
    assert body["noShows"]["tutorNoShowRate"] == pytest.approx(
        achieved["tutor_no_show_rate"], abs=5e-4
    )
    # At-risk tutors are truly less reliable than the rest.
    truth = world.truth["tutors"]
    listed = [truth[t["tutorId"]]["reliability_z"] for t in body["atRiskTutors"]]
    everyone = [v["reliability_z"] for v in truth.values()]
    assert listed
    assert sum(listed) / len(listed) < sum(everyone) / len(everyone) - 0.5
    # Local-time slots add up to every due session.
    assert sum(c["due"] for c in body["byLocalTime"]["cells"]) == body["noShows"]["sessionsDue"]


def test_other_thresholds_and_horizons_are_served_equal_to_computing_them(
    planted: tuple[Any, Engine], database_url: str
) -> None:
    _world, eng = planted
    settings = pw.settings(database_url).model_copy(update={"analytics_cache_seconds": 300})
    cache.clear()
    with Session(eng) as db:
        default = service.get_reliability(
            db, settings=settings, now=pw.NOW, threshold=service.DEFAULT_THRESHOLD,
            days_ahead=service.DEFAULT_DAYS_AHEAD, limit=snapshots.MAX_LIMIT, stored=False,
        )  # fmt: skip
        rates = service.get_reliability_rates(db, settings=settings, now=pw.NOW)
        assert rates["complete"]
        # A marker in the stored view shows the answer was built from it, not computed.
        snapshots.store(
            db, "reliability", {**default, "marker": "stored"}, computed_at=pw.NOW, seconds=0.0
        )
        snapshots.store(db, service.RELIABILITY_RATES_KEY, rates, computed_at=pw.NOW, seconds=0.0)
        checked = 0
        for threshold, days_ahead, limit in (
            (0.1, 7, 50),
            (0.15, 30, 20),
            (0.3, 0, 500),
            (0.05, 3, 10),
        ):
            served = service.get_reliability(
                db, settings=settings, now=pw.NOW, threshold=threshold, days_ahead=days_ahead,
                limit=limit,
            )  # fmt: skip
            cold = service.get_reliability(
                db, settings=settings, now=pw.NOW, threshold=threshold, days_ahead=days_ahead,
                limit=limit, stored=False,
            )  # fmt: skip
            assert served.pop("marker") == "stored"
            assert served == snapshots.to_json(cold)
            assert served["summary"]["threshold"] == threshold
            checked += len(served["atRiskTutors"])
        assert checked > 0

        # Rates cut short cover only thresholds at or above the lowest stored rate.
        cut = {"complete": False, "tutors": rates["tutors"][:20]}
        lowest = cut["tutors"][-1]["failureRateShrunk"]
        view = snapshots.to_json(default)
        assert service._reliability_from_rates(
            db, view, cut, now=pw.NOW, threshold=lowest - 1e-6, days_ahead=7, limit=50
        ) is None  # fmt: skip
        above = service._reliability_from_rates(
            db, view, cut, now=pw.NOW, threshold=lowest, days_ahead=7, limit=50
        )
        assert above is not None
        assert above["summary"]["tutorsAboveThreshold"] == sum(
            t["failureRateShrunk"] > lowest for t in rates["tutors"]
        )
        db.rollback()
    cache.clear()
