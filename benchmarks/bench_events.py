"""Throughput of the SQLite event log, and a zero-loss check.

    .venv/bin/python benchmarks/bench_events.py                 # both modes, defaults below
    .venv/bin/python benchmarks/bench_events.py --mode strict --events 100000 --concurrency 512

Many concurrent producers each record their share of inference events (building each event is
included, as the gateway pays for it too); the clock stops after ``close()``, so every event is
committed when the rate is computed. Then a separate connection counts the rows (must equal the
number recorded), checks that every request id is present once, and the hash chain is verified.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Literal

from abgate.events import InferenceEvent, SQLiteEventLog, verify_chain


def make_event(i: int) -> InferenceEvent:
    variant = "baseline" if i % 10 < 7 else "enhanced"
    return InferenceEvent(
        ts=1_700_000_000.0 + i * 1e-4,
        request_id=f"req-{i:09d}",
        experiment="aapl-direction",
        model=variant,
        version="1",
        assigned_model=variant,
        assignment="split",
        unit_hash=None,
        input_sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        probability=0.5 + (i % 100) / 1000,
        signal="buy",
        latency_ms=1.25,
        status=200,
        propensity=0.7 if variant == "baseline" else 0.3,
    )


async def run(
    path: Path,
    durability: Literal["strict", "relaxed"],
    events: int,
    concurrency: int,
    max_pending: int,
) -> None:
    log = SQLiteEventLog(path, durability=durability, max_pending=max_pending)
    await log.start()

    async def producer(worker: int) -> None:
        for i in range(worker, events, concurrency):
            await log.record_inference(make_event(i))

    started = time.perf_counter()
    await asyncio.gather(*(producer(w) for w in range(concurrency)))
    acknowledged = time.perf_counter() - started
    await log.close()
    elapsed = time.perf_counter() - started
    stats = log.stats

    with sqlite3.connect(path) as conn:
        rows, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT request_id) FROM inference"
        ).fetchone()
    conn.close()
    chain = verify_chain(path)
    lost = events - distinct
    print(
        f"{durability:8s} {events / elapsed:10,.0f} events/s committed "
        f"({events / acknowledged:,.0f}/s acknowledged) | {events:,} events, "
        f"{concurrency} producers, {stats.batches:,} batches "
        f"(avg {events / max(stats.batches, 1):.0f}, max {stats.largest_batch}), "
        f"peak pending {stats.peak_pending:,}/{max_pending:,}, "
        f"back-pressure waits {stats.backpressure_waits:,}"
    )
    print(
        f"         rows {rows:,}, distinct ids {distinct:,}, lost {lost}, "
        f"chain {'ok' if chain.ok else 'BROKEN: ' + str(chain.problem)} ({chain.events:,} events)"
    )
    if rows != events or lost or not chain.ok:
        raise SystemExit("event loss or chain damage detected")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["strict", "relaxed", "both"], default="both")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--max-pending", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, default=None, help="where the database goes")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop like the gateway")
    args = parser.parse_args()
    modes: list[Literal["strict", "relaxed"]] = (
        ["relaxed", "strict"] if args.mode == "both" else [args.mode]
    )
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for mode in modes:
            path = Path(tmp) / f"bench-{mode}.db"
            coro = run(path, mode, args.events, args.concurrency, args.max_pending)
            if args.uvloop:
                import uvloop

                uvloop.run(coro)
            else:
                asyncio.run(coro)


if __name__ == "__main__":
    main()
