"""Read-side SQL of the SQLite event log: plain functions over a connection.

Each aggregate is one range scan of a covering index (see schema.py); mirror traffic is never
counted.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from abgate.events.schema import INFERENCE_FIELDS
from abgate.events.types import ModelTally

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


def tallies(conn: sqlite3.Connection, experiment: str) -> dict[str, ModelTally]:
    scores = {
        model: (scored, correct) for model, scored, correct in conn.execute(_SCORES, (experiment,))
    }
    result: dict[str, ModelTally] = {}
    for model, requests, errors, fallbacks in conn.execute(_REQUESTS, (experiment,)):
        scored, correct = scores.get(model, (0, 0))
        result[model] = ModelTally(model, requests, errors, fallbacks, scored, correct)
    return result


def assignment_counts(conn: sqlite3.Connection, experiment: str) -> dict[str, int]:
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
