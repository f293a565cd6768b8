"""Adaptive micro-batching: concurrent requests for one model share one ONNX Runtime call.

A request's rows are queued and a flush is scheduled ``wait_turns`` (default 2) turns of the
event loop later: the first turn runs every request task that was already ready, the second also
takes the requests read in the I/O poll between the turns. So everything that arrived while the
loop was busy (parsing other requests, writing responses) goes into the same call. There is no
timer: an idle gateway adds two loop turns of latency (tens of µs), a busy one batches as much
as arrives, up to ``max_batch_size`` rows. Measured at 16 connections, one turn instead of two
costs about 13 % more CPU per request (``benchmarks/bench_means.py``). One call of 16 windows
costs little more than one call of one; the per-call overhead of a small graph is what
dominates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

Runner = Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]


class MicroBatcher:
    def __init__(self, run: Runner, max_batch_size: int = 64, wait_turns: int = 2):
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        if wait_turns < 1:
            raise ValueError("wait_turns must be at least 1")
        self.wait_turns = wait_turns
        self._run = run
        self.max_batch_size = max_batch_size
        self._pending: list[
            tuple[npt.NDArray[np.float32], asyncio.Future[npt.NDArray[np.float32]]]
        ] = []
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.calls = 0  # introspection for tests and benchmarks
        self.rows = 0

    async def predict(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        loop = self._loop
        if loop is None or loop.is_closed():  # get_running_loop() costs a getpid() system call
            loop = self._loop = asyncio.get_running_loop()
        future: asyncio.Future[npt.NDArray[np.float32]] = loop.create_future()
        self._pending.append((batch, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._next_turn, loop, self.wait_turns - 1)
        return await future

    def _next_turn(self, loop: asyncio.AbstractEventLoop, turns_left: int) -> None:
        if turns_left > 0:
            loop.call_soon(self._next_turn, loop, turns_left - 1)
        else:
            self._flush()

    def _flush(self) -> None:
        self._scheduled = False
        while self._pending:
            take, rows = 0, 0
            for arr, _ in self._pending:
                if take and rows + len(arr) > self.max_batch_size:
                    break
                take += 1
                rows += len(arr)
            group, self._pending = self._pending[:take], self._pending[take:]
            live = [(a, f) for a, f in group if not f.done()]  # skip callers that gave up
            if not live:
                continue
            arrays = [a for a, _ in live]
            stacked = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
            try:
                out = self._run(stacked)
            except Exception as exc:
                for _, f in live:
                    if not f.done():
                        f.set_exception(exc)
                continue
            self.calls += 1
            self.rows += len(stacked)
            start = 0
            for arr, f in live:
                if not f.done():
                    f.set_result(out[start : start + len(arr)])
                start += len(arr)
