"""Adaptive micro-batching: concurrent requests for one model share one ONNX Runtime call.

A request's rows are queued and a flush is scheduled for the next turn of the event loop, so
everything that arrived while the loop was busy (parsing other requests, writing responses)
goes into the same call. There is no timer: an idle gateway adds one loop turn of latency, a
busy one batches as much as arrives, up to ``max_batch_size`` rows. One call of 16 windows costs
little more than one call of one; the per-call overhead of a small graph is what dominates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

Runner = Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]


class MicroBatcher:
    def __init__(self, run: Runner, max_batch_size: int = 64):
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self._run = run
        self.max_batch_size = max_batch_size
        self._pending: list[
            tuple[npt.NDArray[np.float32], asyncio.Future[npt.NDArray[np.float32]]]
        ] = []
        self._scheduled = False
        self.calls = 0  # introspection for tests and benchmarks
        self.rows = 0

    async def predict(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[npt.NDArray[np.float32]] = loop.create_future()
        self._pending.append((batch, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

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
