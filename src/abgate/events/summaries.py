"""Read one experiment's sufficient statistics from an event log, for the statistics engine.

Everything comes from the tally tables (constant time however long the log) except a latency
sample: the most recent ``latency_sample`` non-mirror requests of the experiment, read
newest-first by primary key. Weights are the experiment's configured weights as the gateway
recorded them (``experiment_config`` and ``weight_change`` admin events); SRM counts only the
assignments made since the last weight change, since only those share one set of weights.

Arms: accuracy, returns and latency belong to the model that *served* (a fallback answer is the
default model's prediction); assignments and failures belong to the model the router *chose*
(the sample-ratio check is about assignment, before any fallback, and a candidate whose failures
the fallback hides must still fail its error-rate guardrail).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from abgate.errors import StoreError
from abgate.events.schema import open_reader
from abgate.stats.bandit import IPWArm, ipw_arms
from abgate.stats.config import ArmSummary
from abgate.stats.sufficient import Moments, Proportion

CONFIG_KINDS = ("experiment_config", "weight_change")


@dataclass(frozen=True)
class ExperimentData:
    experiment: str
    default: str | None
    weights: dict[str, float]
    weights_source: str  # "recorded" or "propensity" (older logs without config events)
    arms: dict[str, ArmSummary]
    events: int  # inference rows of the experiment (mirror excluded)


def list_experiments(path: str | Path) -> list[str]:
    conn = open_reader(path)
    try:
        rows = conn.execute(
            "SELECT experiment FROM tally_assigned UNION SELECT experiment FROM tally_served"
        ).fetchall()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read event log {path}: {exc}") from exc
    finally:
        conn.close()
    return sorted(r[0] for r in rows)


def load_experiment(
    path: str | Path, experiment: str, *, latency_sample: int = 5_000
) -> ExperimentData:
    conn = open_reader(path)
    try:
        conn.execute("BEGIN")  # one snapshot for every query
        return _load(conn, experiment, latency_sample)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read event log {path}: {exc}") from exc
    finally:
        conn.close()


def _load(conn: sqlite3.Connection, experiment: str, latency_sample: int) -> ExperimentData:
    served = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT model, requests, errors FROM tally_served WHERE experiment = ?", (experiment,)
        )
    }
    scores = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT model, scored, correct, reward_n, reward_sum, reward_sumsq "
            "FROM tally_feedback WHERE experiment = ?",
            (experiment,),
        )
    }
    if not served:
        raise StoreError(f"no inference events for experiment '{experiment}' in this log")
    default, weights, since = _recorded_config(conn, experiment)
    source = "recorded"
    if not weights:
        weights, source = _propensity_weights(conn, experiment), "propensity"
    assigned = _assignments(conn, experiment, since)
    failures = {
        m: (n, f)
        for m, n, f in conn.execute(
            "SELECT model, assignments, failures FROM tally_assigned WHERE experiment = ?",
            (experiment,),
        )
    }
    names = sorted(set(weights) | set(assigned) | set(served))
    weights = {n: float(weights.get(n, 0.0)) for n in names}
    latency = _latency(conn, experiment, latency_sample)
    arms = {}
    for name in names:
        scored, correct, rn, rs, rss = scores.get(name, (0, 0, 0, 0.0, 0.0))
        chosen, failed = failures.get(name, (0, 0))
        arms[name] = ArmSummary(
            assignments=assigned.get(name, 0),
            accuracy=Proportion(correct, scored),
            # The guardrail asks how often the model fails when the router chooses it: a
            # failure rescued by the fallback still counts against the model that failed.
            errors=Proportion(failed, chosen),
            returns=Moments(rn, rs, rss),
            latency_ms=latency.get(name, np.zeros(0)),
        )
    return ExperimentData(
        experiment=experiment,
        default=default,
        weights=weights,
        weights_source=source,
        arms=arms,
        events=sum(v[0] for v in served.values()),
    )


def _recorded_config(
    conn: sqlite3.Connection, experiment: str
) -> tuple[str | None, dict[str, float], int]:
    row = conn.execute(
        "SELECT seq, kind, payload FROM admin WHERE experiment = ? AND kind IN (?, ?) "
        "ORDER BY seq DESC LIMIT 1",
        (experiment, *CONFIG_KINDS),
    ).fetchone()
    default_row = conn.execute(
        "SELECT payload FROM admin WHERE experiment = ? AND kind = 'experiment_config' "
        "ORDER BY seq DESC LIMIT 1",
        (experiment,),
    ).fetchone()
    default = json.loads(default_row[0]).get("default") if default_row else None
    if row is None:
        return default, {}, 0
    seq, kind, payload = row
    doc = json.loads(payload)
    weights = doc.get("weights") if kind == "experiment_config" else doc.get("new")
    since = seq if kind == "weight_change" else 0
    return default, {str(k): float(v) for k, v in (weights or {}).items()}, since


def _assignments(conn: sqlite3.Connection, experiment: str, since: int) -> dict[str, int]:
    if since == 0:
        sql = "SELECT model, assignments FROM tally_assigned WHERE experiment = ?"
        return {m: n for m, n in conn.execute(sql, (experiment,))}
    sql = (
        "SELECT assigned_model, count(*) FROM inference WHERE seq > ? AND experiment = ? "
        "AND assigned_model IS NOT NULL AND assignment != 'mirror' GROUP BY assigned_model"
    )
    return {m: n for m, n in conn.execute(sql, (since, experiment))}


def _propensity_weights(conn: sqlite3.Connection, experiment: str) -> dict[str, float]:
    sql = (
        "SELECT assigned_model, avg(propensity) FROM (SELECT assigned_model, propensity "
        "FROM inference WHERE +experiment = ? AND +assignment IN ('split', 'hash') "
        "AND propensity IS NOT NULL ORDER BY seq DESC LIMIT 10000) GROUP BY assigned_model"
    )
    return {m: float(p) for m, p in conn.execute(sql, (experiment,))}


def _latency(conn: sqlite3.Connection, experiment: str, limit: int) -> dict[str, np.ndarray]:
    rows = conn.execute(
        # The unary + keeps SQLite off the experiment index: walking the table backwards by
        # primary key stops after `limit` rows; the index would visit every row, then sort.
        "SELECT model, latency_ms FROM inference WHERE +experiment = ? "
        "AND +assignment != 'mirror' ORDER BY seq DESC LIMIT ?",
        (experiment, limit),
    ).fetchall()
    if not rows:
        return {}
    models = np.array([r[0] for r in rows])
    values = np.array([r[1] for r in rows], dtype=np.float64)
    return {m: values[models == m] for m in np.unique(models)}


def ipw_statistics(path: str | Path, experiment: str) -> dict[str, IPWArm]:
    """Inverse-propensity statistics per *assigned* arm over the scored requests (intent to
    treat: a fallback answer counts for the arm the request was assigned to)."""
    conn = open_reader(path)
    try:
        rows = conn.execute(
            "SELECT i.assigned_model, i.propensity, f.correct FROM feedback AS f "
            "JOIN inference AS i ON i.seq = f.inference_seq "
            "WHERE f.experiment = ? AND f.correct IS NOT NULL AND i.propensity > 0 "
            "AND i.assigned_model IS NOT NULL",
            (experiment,),
        ).fetchall()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read event log {path}: {exc}") from exc
    finally:
        conn.close()
    if not rows:
        return {}
    arms = np.array([r[0] for r in rows])
    return ipw_arms(arms, np.array([r[1] for r in rows]), np.array([r[2] for r in rows]))
