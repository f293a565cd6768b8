"""abgate's statistics library: pure functions over sufficient statistics, no I/O.

Modules, each documented with its references (see also ``docs/statistics.md``):

- :mod:`~abgate.stats.sufficient` — ``Proportion``, ``Moments`` (addable sufficient statistics)
- :mod:`~abgate.stats.proportions` — Wilson, Newcombe, two-proportion z-tests, relative lift
- :mod:`~abgate.stats.bayes` — Beta(1, 1) posteriors, P(candidate > baseline), expected loss
- :mod:`~abgate.stats.means` — Welch t, strategy returns
- :mod:`~abgate.stats.bootstrap` — seeded bootstrap of latency quantiles
- :mod:`~abgate.stats.sequential` — always-valid mSPRT p-values and confidence sequences
- :mod:`~abgate.stats.srm` — sample ratio mismatch
- :mod:`~abgate.stats.power` — minimum detectable effect, sample size
- :mod:`~abgate.stats.multiplicity` — Holm adjustment for A/B/n
- :mod:`~abgate.stats.guardrails` — non-inferiority of error rate and latency
- :mod:`~abgate.stats.decision` — the PROMOTE / ROLLBACK / INVALID / CONTINUE rule
- :mod:`~abgate.stats.analysis` — ``analyze_experiment``, everything for one look
- :mod:`~abgate.stats.simulate` — A/A simulation of peeking
"""

from __future__ import annotations

from abgate.stats._common import Reason
from abgate.stats.analysis import ExperimentAnalysis, analyze_experiment
from abgate.stats.config import AnalysisConfig, ArmSummary
from abgate.stats.decision import Decision, Verdict, decide
from abgate.stats.guardrails import GuardrailStatus
from abgate.stats.means import strategy_returns
from abgate.stats.sequential import SequentialState, sequential_path, update
from abgate.stats.simulate import AAResult, format_aa_table, simulate_aa
from abgate.stats.sufficient import Moments, Proportion

__all__ = [
    "AAResult",
    "AnalysisConfig",
    "ArmSummary",
    "Decision",
    "ExperimentAnalysis",
    "GuardrailStatus",
    "Moments",
    "Proportion",
    "Reason",
    "SequentialState",
    "Verdict",
    "analyze_experiment",
    "decide",
    "format_aa_table",
    "sequential_path",
    "simulate_aa",
    "strategy_returns",
    "update",
]
