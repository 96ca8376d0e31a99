"""Group commit: concurrent writes share one transaction.

A hot ingestion endpoint that commits once per request spends most of its time in
BEGIN/COMMIT (and on SQLite, waiting for the one writer). Here each request queues
its item — or its group of items, a batch request — and awaits its own result; one
drain task per event loop writes whatever has queued — everything that arrived while
the previous write was running — in a single call on the thread pool, then hands
each request its own outcome. A group is never split: all of a request's items are
in the same transaction. An idle server adds no delay (the first request is written
at once); under load the transaction grows by itself, up to ``max_batch`` items (one
larger group is written alone). A request is answered only after its transaction
has committed, so nothing acknowledged is lost. If the write fails, every request of
that transaction gets the exception.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio.to_thread

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _LoopState(Generic[T, R]):
    pending: list[tuple[list[T], asyncio.Future[list[R]]]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


class GroupCommitter(Generic[T, R]):
    """Batch ``write(items) -> results`` (same length, same order) across concurrent callers."""

    def __init__(self, write: Callable[[Sequence[T]], Sequence[R]], *, max_batch: int) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._write = write
        self._max_batch = max_batch
        # One queue per event loop (tests run several loops one after another).
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState[T, R]] = (
            weakref.WeakKeyDictionary()
        )
        self.batches = 0  # counters for the benchmark and tests
        self.items = 0

    async def submit(self, item: T) -> R:
        """Queue ``item`` and return its result once its transaction has committed."""
        return (await self.submit_many([item]))[0]

    async def submit_many(self, items: Sequence[T]) -> list[R]:
        """Queue ``items`` as one group (written in one transaction); their results, in order."""
        if not items:
            return []
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            state = self._states.setdefault(loop, _LoopState())
        future: asyncio.Future[list[R]] = loop.create_future()
        state.pending.append((list(items), future))
        if state.task is None or state.task.done():
            state.task = loop.create_task(self._drain(state))
        return await future

    def _take(self, state: _LoopState[T, R]) -> list[tuple[list[T], asyncio.Future[list[R]]]]:
        """The next transaction's groups: the oldest, then as many as fit in ``max_batch``."""
        size, count = 0, 0
        for items, _ in state.pending:
            if count and size + len(items) > self._max_batch:
                break
            size += len(items)
            count += 1
        taken = state.pending[:count]
        del state.pending[:count]
        return taken

    async def _drain(self, state: _LoopState[T, R]) -> None:
        while state.pending:
            groups = self._take(state)
            items = [item for group, _ in groups for item in group]
            try:
                results = await anyio.to_thread.run_sync(self._write, items)
            except Exception as exc:  # every caller of this transaction sees the failure
                for _, future in groups:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            self.items += len(items)
            start = 0
            for group, future in groups:
                if not future.done():
                    future.set_result(list(results[start : start + len(group)]))
                start += len(group)
