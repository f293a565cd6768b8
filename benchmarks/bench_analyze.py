"""Analysis time of an event log with N predictions (default 10 million), all scored.

    .venv/bin/python benchmarks/bench_analyze.py [--predictions 10000000] [--db PATH] [--runs 5]

The log is synthetic but goes through the real schema (tables, indexes and the tally triggers
that keep the running sufficient statistics): rows are inserted with the event log's own DDL,
in transactions of 100k. Hash-chain columns hold placeholders (the chain is not what is
measured). Then `load_experiment` + `analyze_experiment` — everything `abgate analyze` does
after start-up — is timed; the median of --runs is reported. A recount straight from the rows
(`recount_tallies`) is timed too, for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from abgate.events import queries
from abgate.events.schema import open_writer
from abgate.events.summaries import load_experiment
from abgate.stats import AnalysisConfig, analyze_experiment

RESULTS = Path(__file__).resolve().parent / "results"
EXP = "financial-ab-test-experiment"
CHUNK = 100_000


def generate(path: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    conn = open_writer(path, synchronous="NORMAL")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute(
        "INSERT INTO admin (seq, ts, kind, experiment, payload, prev_hash, hash) "
        "VALUES (1, 0, 'experiment_config', ?, ?, '', '')",
        (
            EXP,
            json.dumps(
                {
                    "weights": {"baseline-predictor": 70, "enhanced-predictor": 30},
                    "default": "baseline-predictor",
                }
            ),
        ),
    )
    seq = 2
    started = time.perf_counter()
    for lo in range(0, n, CHUNK):
        m = min(CHUNK, n - lo)
        enhanced = rng.random(m) < 0.3
        prob = rng.random(m)
        latency = rng.gamma(4.0, 0.2, m) + np.where(enhanced, 0.1, 0.0)
        truth = rng.integers(0, 2, m)
        reward = rng.normal(0.0003, 0.015, m)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO inference VALUES (?, ?, ?, ?, ?, '1', ?, 'split', NULL, 'x', ?, NULL, ?,"
            " 200, NULL, NULL, ?, '', '')",
            (
                (seq + 2 * i, float(lo + i), f"r{lo + i}", EXP, name, name, float(p), float(lt), w)
                for i, (name, p, lt, w) in enumerate(
                    zip(
                        np.where(enhanced, "enhanced-predictor", "baseline-predictor").tolist(),
                        prob,
                        latency,
                        np.where(enhanced, 0.3, 0.7),
                        strict=True,
                    )
                )
            ),
        )
        conn.executemany(
            "INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', '')",
            (
                (
                    seq + 2 * i + 1,
                    float(lo + i),
                    EXP,
                    f"r{lo + i}",
                    seq + 2 * i,
                    name,
                    int(y),
                    float(r),
                    int((p > 0.5) == y),
                )
                for i, (name, p, y, r) in enumerate(
                    zip(
                        np.where(enhanced, "enhanced-predictor", "baseline-predictor").tolist(),
                        prob,
                        truth,
                        reward,
                        strict=True,
                    )
                )
            ),
        )
        conn.execute("COMMIT")
        seq += 2 * m
        done = lo + m
        rate = done / (time.perf_counter() - started)
        print(f"\r  generated {done:,}/{n:,} predictions ({rate:,.0f}/s)", end="", flush=True)
    print()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def timed(fn, runs: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", type=int, default=10_000_000)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    db = args.db or Path(f"/tmp/abgate-bench-{args.predictions}.db")
    if not db.exists():
        print(f"generating {db} ...", flush=True)
        generate(db, args.predictions)

    def analyse() -> object:
        data = load_experiment(db, EXP)
        return analyze_experiment(
            data.arms,
            data.weights,
            AnalysisConfig(),
            baseline="baseline-predictor",
            rng=np.random.default_rng(0),
        )

    analyse()  # warm the page cache the way a second run of the CLI would find it
    seconds, analysis = timed(analyse, args.runs)
    conn = sqlite3.connect(db)
    recount, _ = timed(lambda: queries.recount_tallies(conn, EXP), 1)
    conn.close()
    verdict = analysis.decision.verdict.value  # type: ignore[attr-defined]
    result = {
        "benchmark": "abgate analyze on a synthetic event log (load + full analysis)",
        "command": "benchmarks/bench_analyze.py " + " ".join(sys.argv[1:]),
        "predictions": args.predictions,
        "median_s": round(seconds, 4),
        "runs": args.runs,
        "recount_from_rows_s": round(recount, 2),
        "verdict": verdict,
        "db_bytes": db.stat().st_size,
        "target_s": 2.0,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "analyze.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"analysis of {args.predictions:,} predictions: median {seconds * 1000:.1f} ms "
        f"(recount from rows: {recount:.1f} s); verdict {verdict}"
    )


if __name__ == "__main__":
    main()
