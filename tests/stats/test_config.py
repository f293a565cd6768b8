import numpy as np
import pytest
from pydantic import ValidationError

from abgate.stats import AnalysisConfig, ArmSummary, Moments, Proportion


def test_defaults() -> None:
    config = AnalysisConfig()
    assert (config.alpha, config.n_star, config.srm_threshold) == (0.05, 5000, 0.001)
    assert "N*" in (AnalysisConfig.model_fields["n_star"].description or "")


@pytest.mark.parametrize(
    "kwargs",
    [{"alpha": 0.0}, {"alpha": 0.6}, {"n_star": 0}, {"power": 0.04, "alpha": 0.05},
     {"unknown": 1}, {"burn_in": -1}],
)  # fmt: skip
def test_invalid_config(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        AnalysisConfig(**kwargs)  # type: ignore[arg-type]


def test_config_is_frozen() -> None:
    with pytest.raises(ValidationError):
        AnalysisConfig().alpha = 0.1


def test_arm_summary_copies_and_freezes_latency() -> None:
    latency = np.array([1.0, 2.0])
    arm = ArmSummary(assignments=2, accuracy=Proportion(1, 2), latency_ms=latency)
    latency[0] = 99.0
    assert arm.latency_ms[0] == 1.0
    with pytest.raises(ValueError):
        arm.latency_ms[0] = 5.0
    assert arm.returns == Moments(0, 0.0, 0.0) and arm.errors == Proportion(0, 0)


def test_arm_summary_validates() -> None:
    with pytest.raises(ValueError):
        ArmSummary(assignments=1, accuracy=Proportion(1, 1), latency_ms=np.array([-1.0]))
    with pytest.raises(TypeError):
        ArmSummary(assignments=1, accuracy=(1, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ArmSummary(assignments=-1, accuracy=Proportion(1, 1))
