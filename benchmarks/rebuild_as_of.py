"""Rebuild every tutor's rollups and health as of a fixed instant (benchmark setup).

    python benchmarks/rebuild_as_of.py --database-url sqlite:///var/bench/w100k.db \
        --now 2026-05-01T00:00:00+00:00

A generated world ends at its ``--now``; benchmarks that freeze the clock there (alerts,
risk) need the health snapshot computed as of the same instant, not as of the wall
clock (``tutorpulse engagement rebuild`` uses the wall clock, as a live system must).
Prints the rebuild's time.
"""

from __future__ import annotations

import argparse
from datetime import datetime

from tutorpulse.core.db import create_db_engine, make_session_factory
from tutorpulse.core.settings import Settings
from tutorpulse.engagement import refresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--now", required=True, help="ISO datetime with a zone")
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now)
    settings = Settings(_env_file=None, database_url=args.database_url)
    factory = make_session_factory(create_db_engine(settings.resolved_database_url()))
    result = refresh.rebuild(factory, settings=settings, now_fn=lambda: now)
    print(
        f"rebuilt {result.tutors_rolled_up:,} tutors and {result.platform_days:,} platform days "
        f"as of {now.isoformat()} in {result.seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
