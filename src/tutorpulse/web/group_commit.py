"""Group commit: concurrent single-item writes share one transaction.

A hot ingestion endpoint that commits once per request spends most of its time in
BEGIN/COMMIT (and on SQLite, waiting for the one writer). Here each request queues
its item and awaits its own result; one drain task per event loop writes whatever
has queued — everything that arrived while the previous write was running — in a
single call on the thread pool, then hands each request its own outcome. An idle
server adds no delay (the first item is written at once); under load the batch
grows by itself. A request is answered only after its item's transaction has
committed, so nothing acknowledged is lost. If the write fails, every request of
that batch gets the exception.
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
    pending: list[tuple[T, asyncio.Future[R]]] = field(default_factory=list)
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
        """Queue ``item`` and return its result once its batch has been written."""
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            state = self._states.setdefault(loop, _LoopState())
        future: asyncio.Future[R] = loop.create_future()
        state.pending.append((item, future))
        if state.task is None or state.task.done():
            state.task = loop.create_task(self._drain(state))
        return await future

    async def _drain(self, state: _LoopState[T, R]) -> None:
        while state.pending:
            batch = state.pending[: self._max_batch]
            del state.pending[: self._max_batch]
            items = [item for item, _ in batch]
            try:
                results = await anyio.to_thread.run_sync(self._write, items)
            except Exception as exc:  # every caller of this batch sees the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            self.items += len(items)
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
