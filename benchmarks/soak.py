"""Soak: steady load on the gateway for a long time; memory and open file descriptors must stay
flat. `make soak` (10 minutes); `--minutes` to shorten.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--rate 200]

Open-loop load at --rate requests/s (at most 64 in flight; slots missed because of that are
counted as `behind`, never queued without bound), with feedback for every prediction, so every
part of the gateway works: routing, inference, events, feedback joins, live analysis, metrics.
Every 30 s the gateway's RSS and open fds are sampled. Flat means: after the first two minutes of
warm-up, the last sample is within 10% (RSS) and 10 descriptors (fds) of the
first post-warm-up sample. Results: benchmarks/results/soak.json; exit 1 when not flat or when a
request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _servers import ROOT, free_port, running

from abgate.registry.store import Registry

EXP = "financial-ab-test-experiment"


def sample(pid: int) -> tuple[float, int]:
    with open(f"/proc/{pid}/status") as fh:
        rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


async def load(url: str, pid: int, minutes: float, rate: float, windows: object) -> dict:
    samples: list[dict[str, float]] = []
    failures = sent = behind = 0
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
            nonlocal failures
            try:
                r = await client.post(
                    "/v2/models/baseline-predictor/infer",
                    content=bodies[i % len(bodies)],
                    headers={"x-request-id": f"s{i}", "content-type": "application/json"},
                )
                if r.status_code != 200:
                    failures += 1
                else:
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
                rss, fds = sample(pid)
                samples.append({"t_s": round(now - t0, 1), "rss_mb": round(rss, 1), "fds": fds})
                print(
                    f"[{now - t0:6.0f} s] sent {sent}  behind {behind}  failures {failures}  "
                    f"RSS {rss:.1f} MB  fds {fds}",
                    flush=True,
                )
                next_sample += 30
            await asyncio.sleep(0.005)
        await asyncio.gather(*pending)
    return {"sent": sent, "behind": behind, "failures": failures, "samples": samples}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--registry", default=str(ROOT / "models"))
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
        ]
        with running(cmd, f"http://127.0.0.1:{port}/v2/health/ready", tmp / "gw.log") as proc:
            result = asyncio.run(
                load(
                    f"http://127.0.0.1:{port}",
                    proc.pid,
                    args.minutes,
                    args.rate,
                    (held.windows, held.labels),
                )
            )
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
    (ROOT / "benchmarks" / "results" / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"sent {result['sent']}, failures {result['failures']}, flat: {flat}")
    return 0 if flat and result["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
