"""Group commit: concurrent submissions share writes; each caller gets its own result."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from tutorpulse.web.group_commit import GroupCommitter

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a fresh loop in its own thread.

    The browser tests' session-wide Playwright keeps an event loop running on the main
    thread, where asyncio.run() is refused.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


class Recorder:
    """A write function that records its batches and can be held to let a queue build."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.gate.wait(5)
        self.batches.append(list(items))
        if any(item < 0 for item in items):
            raise ValueError("negative item")
        return [item * 10 for item in items]


def test_an_idle_submission_is_written_alone_and_at_once() -> None:
    write = Recorder()
    committer = GroupCommitter(write, max_batch=100)
    assert run(committer.submit(7)) == 70
    assert write.batches == [[7]]


def test_submissions_arriving_during_a_write_share_the_next_batch() -> None:
    write = Recorder()
    committer = GroupCommitter(write, max_batch=100)

    async def scenario() -> list[int]:
        write.gate.clear()  # hold the first write so that the others queue behind it
        first = asyncio.ensure_future(committer.submit(1))
        await asyncio.sleep(0.05)
        rest = [asyncio.ensure_future(committer.submit(i)) for i in range(2, 12)]
        await asyncio.sleep(0.05)
        write.gate.set()
        return list(await asyncio.gather(first, *rest))

    results = run(scenario())
    assert results == [i * 10 for i in range(1, 12)]  # each caller got its own result
    assert write.batches == [[1], list(range(2, 12))]
    assert (committer.batches, committer.items) == (2, 11)


def test_batches_are_capped_at_max_batch() -> None:
    write = Recorder()
    committer = GroupCommitter(write, max_batch=4)

    async def scenario() -> list[int]:
        write.gate.clear()
        tasks = [asyncio.ensure_future(committer.submit(i)) for i in range(10)]
        await asyncio.sleep(0.05)
        write.gate.set()
        return list(await asyncio.gather(*tasks))

    assert run(scenario()) == [i * 10 for i in range(10)]
    assert [len(b) for b in write.batches] == [4, 4, 2]


def test_a_failed_write_fails_every_caller_of_that_batch_and_no_other() -> None:
    write = Recorder()
    committer = GroupCommitter(write, max_batch=100)

    async def scenario() -> list[object]:
        write.gate.clear()
        first = asyncio.ensure_future(committer.submit(1))
        await asyncio.sleep(0.05)
        doomed = [asyncio.ensure_future(committer.submit(i)) for i in (2, -3, 4)]
        await asyncio.sleep(0.05)
        write.gate.set()
        return list(await asyncio.gather(first, *doomed, return_exceptions=True))

    first, *doomed = run(scenario())
    assert first == 10
    assert all(isinstance(r, ValueError) for r in doomed)
    # The committer keeps working after a failed batch.
    assert run(committer.submit(5)) == 50


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        GroupCommitter(Recorder(), max_batch=0)


def test_a_group_is_written_in_one_transaction_and_never_split() -> None:
    write = Recorder()
    committer = GroupCommitter(write, max_batch=5)

    async def scenario() -> list[object]:
        write.gate.clear()
        first = asyncio.ensure_future(committer.submit(1))
        await asyncio.sleep(0.05)
        groups = [
            asyncio.ensure_future(committer.submit_many([2, 3, 4])),
            asyncio.ensure_future(committer.submit_many([5, 6, 7])),  # 3 + 3 > 5: next write
            asyncio.ensure_future(committer.submit(8)),
            asyncio.ensure_future(committer.submit_many(list(range(9, 17)))),  # 8 > 5: alone
            asyncio.ensure_future(committer.submit_many([])),
        ]
        await asyncio.sleep(0.05)
        write.gate.set()
        return list(await asyncio.gather(first, *groups))

    results = run(scenario())
    assert results == [
        10,
        [20, 30, 40],
        [50, 60, 70],
        80,
        [i * 10 for i in range(9, 17)],
        [],
    ]
    assert write.batches == [[1], [2, 3, 4], [5, 6, 7, 8], list(range(9, 17))]
    assert (committer.batches, committer.items) == (4, 16)


def test_a_failed_group_fails_only_the_callers_of_its_transaction() -> None:
    write = Recorder()
    committer = GroupCommitter(write, max_batch=4)

    async def scenario() -> list[object]:
        write.gate.clear()
        first = asyncio.ensure_future(committer.submit(1))
        await asyncio.sleep(0.05)
        doomed = asyncio.ensure_future(committer.submit_many([2, -3]))
        fellow = asyncio.ensure_future(committer.submit(4))  # same transaction as the doomed
        later = asyncio.ensure_future(committer.submit_many([5, 6, 7]))  # 3 + 3 > 4: next
        await asyncio.sleep(0.05)
        write.gate.set()
        return list(await asyncio.gather(first, doomed, fellow, later, return_exceptions=True))

    first, doomed, fellow, later = run(scenario())
    assert first == 10
    assert isinstance(doomed, ValueError)
    assert isinstance(fellow, ValueError)
    assert later == [50, 60, 70]
