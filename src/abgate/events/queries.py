"""Read-side SQL of the SQLite event log: plain functions over a connection.

Aggregates read the tally tables that triggers keep in step with the rows (schema version 2),
so they cost the same for a thousand events or ten million. ``recount_*`` recompute the same
numbers from the rows themselves (one range scan of a covering index each), to check the
tallies. Mirror traffic is never counted.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from abgate.events.schema import INFERENCE_FIELDS
from abgate.events.types import ModelTally

_TALLY_SERVED: Final = """
SELECT model, requests, errors, fallbacks FROM tally_served WHERE experiment = ?
"""
_TALLY_SCORES: Final = """
SELECT model, scored, correct FROM tally_feedback WHERE experiment = ?
"""
_TALLY_ASSIGNED: Final = """
SELECT model, assignments FROM tally_assigned WHERE experiment = ?
"""

_REQUESTS: Final = """
SELECT model, count(*), sum(status >= 400), sum(assignment = 'fallback')
FROM inference
WHERE experiment = ? AND assignment != 'mirror'
GROUP BY model
"""

_SCORES: Final = """
SELECT model, count(correct), coalesce(sum(correct), 0)
FROM feedback
WHERE experiment = ?
GROUP BY model
"""

_ASSIGNMENTS: Final = """
SELECT assigned_model, count(*)
FROM inference
WHERE experiment = ? AND assigned_model IS NOT NULL AND assignment != 'mirror'
GROUP BY assigned_model
"""

_INFERENCE_COLUMNS: Final = ("seq", *INFERENCE_FIELDS, "prev_hash", "hash")
_FIND: Final = f"""
SELECT {", ".join(f"i.{c}" for c in _INFERENCE_COLUMNS)},
       f.seq, f.ts, f.truth, f.reward, f.correct
FROM inference AS i LEFT JOIN feedback AS f ON f.inference_seq = i.seq
WHERE i.request_id = ? AND i.assignment != 'mirror'
ORDER BY i.seq DESC LIMIT 1
"""
_FEEDBACK_COLUMNS: Final = ("seq", "ts", "truth", "reward", "correct")


def _tallies(
    conn: sqlite3.Connection, experiment: str, requests_sql: str, scores_sql: str
) -> dict[str, ModelTally]:
    scores = {
        model: (scored, correct)
        for model, scored, correct in conn.execute(scores_sql, (experiment,))
    }
    result: dict[str, ModelTally] = {}
    for model, requests, errors, fallbacks in conn.execute(requests_sql, (experiment,)):
        scored, correct = scores.get(model, (0, 0))
        result[model] = ModelTally(model, requests, errors, fallbacks, scored, correct)
    return result


def tallies(conn: sqlite3.Connection, experiment: str) -> dict[str, ModelTally]:
    return _tallies(conn, experiment, _TALLY_SERVED, _TALLY_SCORES)


def recount_tallies(conn: sqlite3.Connection, experiment: str) -> dict[str, ModelTally]:
    return _tallies(conn, experiment, _REQUESTS, _SCORES)


def assignment_counts(conn: sqlite3.Connection, experiment: str) -> dict[str, int]:
    return {model: count for model, count in conn.execute(_TALLY_ASSIGNED, (experiment,))}


def recount_assignments(conn: sqlite3.Connection, experiment: str) -> dict[str, int]:
    return {model: count for model, count in conn.execute(_ASSIGNMENTS, (experiment,))}


def find_inference(conn: sqlite3.Connection, request_id: str) -> dict[str, object] | None:
    """The inference columns, plus ``feedback``: its ground truth row (or None)."""
    row = conn.execute(_FIND, (request_id,)).fetchone()
    if row is None:
        return None
    found: dict[str, object] = dict(zip(_INFERENCE_COLUMNS, row, strict=False))
    tail = row[len(_INFERENCE_COLUMNS) :]
    found["feedback"] = None if tail[0] is None else dict(zip(_FEEDBACK_COLUMNS, tail, strict=True))
    return found
