"""Soak: steady load on the gateway for a long time; memory and open file descriptors must stay
flat. `make soak` (10 minutes); `--minutes` to shorten.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--rate 200] [--workers 1]

Open-loop load at --rate requests/s (at most 64 in flight; slots missed because of that are
counted as `behind`, never queued without bound), with feedback for every prediction, so every
part of the gateway works: routing, inference, events, feedback joins, live analysis, metrics.
Every 30 s the gateway's RSS and open fds are sampled. Flat means: after the first two minutes of
warm-up, the last sample is within 10% (RSS) and 10 descriptors (fds) of the
first post-warm-up sample. After a graceful stop, every answered request must be in the event log
and the hash chain must verify. Results: benchmarks/results/soak.json (soak-workersN.json with
--workers N); exit 1 when not flat, when a request failed or when an event is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _servers import ROOT, free_port, running
from bench_gateway import children, wait_for_line

from abgate.events import verify_chain
from abgate.registry.store import Registry

EXP = "financial-ab-test-experiment"


def sample(pids: list[int]) -> tuple[float, int]:
    """RSS (MB) and open descriptors, summed over the gateway's processes."""
    rss, fds = 0.0, 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as fh:
            rss += next(int(ln.split()[1]) for ln in fh if ln.startswith("VmRSS:")) / 1024
        fds += len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds


async def load(url: str, pids: list[int], minutes: float, rate: float, windows: object) -> dict:
    samples: list[dict[str, float]] = []
    failures = sent = behind = served = 0
    labels = windows[1]  # type: ignore[index]
    wins = windows[0]  # type: ignore[index]
    # Bodies encoded once: the client must not be the bottleneck on two shared cores.
    bodies = [
        orjson.dumps(
            {
                "inputs": [
                    {
                        "name": "ohlcv",
                        "shape": [1, 40, 5],
                        "datatype": "FP32",
                        "data": w.reshape(-1).tolist(),
                    }
                ]
            }
        )
        for w in wins
    ]
    max_in_flight = 64
    feedback: list[dict[str, object]] = []
    t0 = start = time.monotonic()
    end = t0 + minutes * 60
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        pending: set[asyncio.Task[None]] = set()

        async def one(i: int) -> None:
            nonlocal failures, served
            try:
                r = await client.post(
                    "/v2/models/baseline-predictor/infer",
                    content=bodies[i % len(bodies)],
                    headers={"x-request-id": f"s{i}", "content-type": "application/json"},
                )
                if r.status_code != 200:
                    failures += 1
                else:
                    served += 1
                    feedback.append({"id": f"s{i}", "truth": int(labels[i % len(labels)])})
            except httpx.HTTPError:
                failures += 1

        next_sample = t0
        while time.monotonic() < end:
            now = time.monotonic()
            due = int((now - start) * rate)
            while sent < due:
                if len(pending) >= max_in_flight:  # open loop, but never an unbounded backlog
                    behind += due - sent
                    start += (due - sent) / rate  # the missed slots are dropped, and counted
                    break
                task = asyncio.create_task(one(sent))
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent += 1
            if len(feedback) >= 100:
                batch, feedback[:] = feedback[:100], feedback[100:]
                try:
                    await client.post(f"/v2/experiments/{EXP}/feedback", json={"feedback": batch})
                except httpx.HTTPError:
                    failures += 1
            if now >= next_sample:
                rss, fds = sample(pids)
                samples.append({"t_s": round(now - t0, 1), "rss_mb": round(rss, 1), "fds": fds})
                print(
                    f"[{now - t0:6.0f} s] sent {sent}  behind {behind}  failures {failures}  "
                    f"RSS {rss:.1f} MB  fds {fds}",
                    flush=True,
                )
                next_sample += 30
            await asyncio.sleep(0.005)
        await asyncio.gather(*pending)
    return {
        "sent": sent,
        "served": served,
        "behind": behind,
        "failures": failures,
        "samples": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--registry", default=str(ROOT / "models"))
    parser.add_argument("--workers", type=int, default=1, help="gateway worker processes")
    args = parser.parse_args()
    held = Registry(args.registry).get("baseline-predictor").load_heldout()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "abgate.cli.main",
            "serve",
            "--registry",
            args.registry,
            "--events-db",
            str(tmp / "events.db"),
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ]
        log = tmp / "gw.log"
        with running(cmd, f"http://127.0.0.1:{port}/v2/health/ready", log) as proc:
            if args.workers > 1:
                wait_for_line(log, "workers ready", proc)
            pids = [proc.pid] if args.workers == 1 else children(proc.pid)
            result = asyncio.run(
                load(
                    f"http://127.0.0.1:{port}",
                    pids,
                    args.minutes,
                    args.rate,
                    (held.windows, held.labels),
                )
            )
        # The gateway has stopped (SIGTERM, graceful): every answered request must be logged.
        conn = sqlite3.connect(tmp / "events.db")
        logged = conn.execute("SELECT count(*) FROM inference").fetchone()[0]
        conn.close()
        chain = verify_chain(tmp / "events.db")
        result |= {"events_logged": logged, "events_lost": result["served"] - logged}
        result["chain_ok"] = chain.ok
    warm = [s for s in result["samples"] if s["t_s"] >= min(120, args.minutes * 60 / 3)]
    flat = True
    if len(warm) >= 2:
        first, last = warm[0], warm[-1]
        flat = last["rss_mb"] <= first["rss_mb"] * 1.10 and last["fds"] <= first["fds"] + 10
    result |= {
        "minutes": args.minutes,
        "rate": args.rate,
        "flat": flat,
        "command": "benchmarks/soak.py " + " ".join(sys.argv[1:]),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    name = "soak.json" if args.workers == 1 else f"soak-workers{args.workers}.json"
    (ROOT / "benchmarks" / "results" / name).write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"sent {result['sent']}, failures {result['failures']}, flat: {flat}, events lost "
        f"{result['events_lost']}, chain ok: {result['chain_ok']}"
    )
    ok = flat and result["failures"] == 0 and result["events_lost"] == 0 and result["chain_ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
