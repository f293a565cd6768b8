"""Hypothesis strategies shared by the statistics tests."""

from hypothesis import strategies as st

from abgate.stats import Proportion


@st.composite
def proportions(draw: st.DrawFn, max_trials: int = 10_000) -> Proportion:
    trials = draw(st.integers(0, max_trials))
    return Proportion(draw(st.integers(0, trials)), trials)
