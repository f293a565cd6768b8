"""Micro-batching: concurrent requests share ONNX Runtime calls and get their own answers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from abgate.gateway.backends import BackendError, OnnxBackend
from abgate.gateway.batching import MicroBatcher
from abgate.registry.store import Registry


async def test_concurrent_predictions_share_calls(smoke_registry: Path) -> None:
    mv = Registry(smoke_registry).get("enhanced-predictor")
    windows = mv.load_heldout().windows[:50]
    single = OnnxBackend(mv, max_batch_size=1)
    batched = OnnxBackend(mv, max_batch_size=16)
    want = [await single.predict(windows[i : i + 1]) for i in range(50)]
    got = await asyncio.gather(*(batched.predict(windows[i : i + 1]) for i in range(50)))
    for w, g in zip(want, got, strict=True):
        np.testing.assert_allclose(g, w, atol=1e-6)
    assert batched._batcher is not None
    assert batched._batcher.calls == 4 and batched._batcher.rows == 50  # 16 + 16 + 16 + 2
    two = await asyncio.gather(batched.predict(windows[:3]), batched.predict(windows[3:5]))
    assert [len(x) for x in two] == [3, 2]


async def test_a_failing_call_fails_only_its_batch() -> None:
    calls = []

    def run(batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        if len(calls) == 1:
            raise BackendError("boom")
        return batch[:, 0, 0]

    batcher = MicroBatcher(run, max_batch_size=2)
    x = [np.full((1, 40, 5), i, dtype=np.float32) for i in range(3)]
    results = await asyncio.gather(*(batcher.predict(a) for a in x), return_exceptions=True)
    assert isinstance(results[0], BackendError) and isinstance(results[1], BackendError)
    np.testing.assert_array_equal(results[2], [2.0])
    assert calls == [2, 1]
    with pytest.raises(ValueError):
        MicroBatcher(run, max_batch_size=0)


@pytest.mark.parametrize(("turns", "calls"), [(1, 2), (2, 1)])
async def test_a_batch_waits_its_turns_for_late_arrivals(turns: int, calls: int) -> None:
    sizes: list[int] = []

    def run(batch: np.ndarray) -> np.ndarray:
        sizes.append(len(batch))
        return batch[:, 0, 0]

    batcher = MicroBatcher(run, max_batch_size=8, wait_turns=turns)
    loop = asyncio.get_running_loop()
    first = loop.create_task(batcher.predict(np.zeros((1, 40, 5), dtype=np.float32)))
    await asyncio.sleep(0)  # `first` has queued its rows and scheduled the batch's turns
    # A request whose task starts after that (as one read in the next I/O poll does): it joins
    # the batch only if the batch waits a second turn.
    late = loop.create_task(batcher.predict(np.ones((1, 40, 5), dtype=np.float32)))
    assert (await first).tolist() == [0.0]
    assert (await late).tolist() == [1.0]
    assert len(sizes) == calls and sum(sizes) == 2
    with pytest.raises(ValueError):
        MicroBatcher(run, wait_turns=0)
