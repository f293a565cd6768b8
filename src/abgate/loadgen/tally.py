"""Client-side tallies of a load run, and their exact comparison with the gateway's own.

The client counts what it saw: per serving model the answers, fallbacks and scored predictions
(up when ``p > 0.5``, the gateway's rule), the latency of every request, the strategy return of
every prediction and the accuracy per market regime. Failures (no answer, or an HTTP error) name
no model, since a V2 error body does not say which variant failed; they are counted globally.

:func:`compare_tallies` checks the client's numbers against the differences of two
``GET /v2/experiments/{name}`` documents taken before and after the run, so another client of
the same gateway before the run does not spoil the check:

- answers without error per model  = gateway ``served − errors``;
- fallbacks per model              = gateway ``fallbacks_served``;
- scored and correct per model     = gateway ``scored`` and ``correct`` (feedback joined);
- HTTP 5xx failures                = sum of the gateway's ``errors``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from abgate.loadgen.client import FeedbackBatch, Outcome
from abgate.loadgen.scenarios import Regime


@dataclass
class ModelTally:
    """What the client saw of one serving model."""

    model: str
    version: str | None = None
    answered: int = 0
    fallbacks: int = 0
    correct: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    next_returns: list[float] = field(default_factory=list)
    regimes: dict[Regime, list[int]] = field(default_factory=dict)
    """regime → [scored, correct]."""

    @property
    def scored(self) -> int:
        """Every answered prediction is scored and its truth sent as feedback."""
        return self.answered


@dataclass
class ClientTally:
    """Everything the load generator observed, updated one outcome at a time."""

    models: dict[str, ModelTally] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    """Every request in the order it finished (for the report's per-prediction table)."""
    sent: int = 0
    failures: int = 0
    server_errors: int = 0
    """Failures answered with an HTTP 5xx (the gateway logged them)."""
    failure_reasons: dict[str, int] = field(default_factory=dict)
    scored_order: list[tuple[str, bool, float]] = field(default_factory=list)
    """(model, correct, finished_s) in the order predictions were scored (sequential looks)."""
    recent: deque[Outcome] = field(default_factory=lambda: deque(maxlen=5))
    """The last scored predictions, for the live view."""
    accounts: dict[str, set[str]] = field(default_factory=dict)
    """account → models that answered it (more than one means the session was not sticky)."""
    account_visits: dict[str, int] = field(default_factory=dict)
    feedback_sent: int = 0
    feedback_accepted: int = 0
    feedback_rejected: int = 0
    """Items the gateway reported unknown, duplicate or invalid."""
    feedback_lost: int = 0
    """Items in batches whose call failed."""

    def model(self, name: str) -> ModelTally:
        if name not in self.models:
            self.models[name] = ModelTally(name)
        return self.models[name]

    def record(self, outcome: Outcome) -> None:
        self.sent += 1
        self.outcomes.append(outcome)
        if outcome.probability is None or outcome.model is None:
            self.failures += 1
            self.server_errors += int(outcome.status >= 500)
            reason = (outcome.error or "unknown").split(":")[0]
            self.failure_reasons[reason] = self.failure_reasons.get(reason, 0) + 1
            return
        scenario = outcome.planned.scenario
        tally = self.model(outcome.model)
        tally.version = outcome.version
        tally.answered += 1
        tally.fallbacks += int(outcome.assignment == "fallback")
        correct = bool(outcome.correct)
        tally.correct += int(correct)
        tally.latencies_ms.append(outcome.latency_ms)
        tally.probabilities.append(outcome.probability)
        tally.next_returns.append(scenario.next_return)
        counts = tally.regimes.setdefault(scenario.regime, [0, 0])
        counts[0] += 1
        counts[1] += int(correct)
        self.scored_order.append((outcome.model, correct, outcome.finished_s))
        self.recent.append(outcome)
        account = outcome.planned.account
        self.accounts.setdefault(account, set()).add(outcome.model)
        self.account_visits[account] = self.account_visits.get(account, 0) + 1

    def record_feedback(self, batch: FeedbackBatch) -> None:
        self.feedback_sent += len(batch.ids)
        if batch.error is not None:
            self.feedback_lost += len(batch.ids)
            return
        self.feedback_accepted += batch.accepted
        self.feedback_rejected += len(batch.unknown) + len(batch.duplicate) + len(batch.invalid)

    @property
    def answered(self) -> int:
        return sum(t.answered for t in self.models.values())

    @property
    def error_rate(self) -> float:
        return self.failures / self.sent if self.sent else 0.0

    def sticky_summary(self) -> dict[str, int]:
        """Accounts answered, those answered more than once, those answered by two models."""
        return {
            "accounts": len(self.accounts),
            "returning": sum(1 for n in self.account_visits.values() if n > 1),
            "switched": sum(1 for models in self.accounts.values() if len(models) > 1),
        }


@dataclass(frozen=True)
class CheckRow:
    """One number counted by both sides."""

    model: str
    quantity: str
    client: int
    gateway: int

    @property
    def agree(self) -> bool:
        return self.client == self.gateway


@dataclass(frozen=True)
class TallyCheck:
    """The comparison of client and gateway tallies; ``available`` False when not possible."""

    available: bool
    rows: tuple[CheckRow, ...] = ()
    note: str = ""

    @property
    def agree(self) -> bool | None:
        return all(r.agree for r in self.rows) if self.available else None


def _variants(status: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    if not status:
        return {}
    return {str(v["model"]): v for v in status.get("variants", ())}


def status_delta(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], key: str
) -> dict[str, int]:
    """Per model, ``after[key] − before[key]`` of two experiment status documents."""
    old, new = _variants(before), _variants(after)
    return {m: int(v.get(key, 0)) - int(old.get(m, {}).get(key, 0)) for m, v in new.items()}


def compare_tallies(
    tally: ClientTally,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> TallyCheck:
    """Compare ``tally`` with the gateway's status difference ``after − before``."""
    if after is None:
        return TallyCheck(False, note="the endpoint has no abgate experiment status to compare")
    keys = ("served", "errors", "fallbacks_served", "scored", "correct")
    d = {key: status_delta(before, after, key) for key in keys}

    def delta(model: str, key: str) -> int:
        return d[key].get(model, 0)

    rows: list[CheckRow] = []
    for model in sorted(set(d["served"]) | set(tally.models)):
        mine = tally.models.get(model, ModelTally(model))
        rows += [
            CheckRow(
                model, "answered", mine.answered, delta(model, "served") - delta(model, "errors")
            ),
            CheckRow(model, "fallbacks", mine.fallbacks, delta(model, "fallbacks_served")),
            CheckRow(model, "scored", mine.scored, delta(model, "scored")),
            CheckRow(model, "correct", mine.correct, delta(model, "correct")),
        ]
    rows.append(CheckRow("all", "http_5xx", tally.server_errors, sum(d["errors"].values())))
    notes = []
    if tally.feedback_lost:
        notes.append(f"{tally.feedback_lost} feedback items were not delivered")
    if tally.feedback_rejected:
        notes.append(f"the gateway rejected {tally.feedback_rejected} feedback items")
    return TallyCheck(True, tuple(rows), "; ".join(notes))


def format_check(check: TallyCheck) -> str:
    """One line for the terminal: agree, disagree (with the first differences) or n/a."""
    if not check.available:
        return f"tally check skipped: {check.note}"
    bad: Iterable[CheckRow] = [r for r in check.rows if not r.agree]
    if not bad:
        return f"client and gateway tallies agree exactly ({len(check.rows)} numbers)"
    diffs = ", ".join(f"{r.model} {r.quantity} {r.client}≠{r.gateway}" for r in list(bad)[:4])
    return f"client and gateway tallies DISAGREE: {diffs}" + (
        f" ({check.note})" if check.note else ""
    )
