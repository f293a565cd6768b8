from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from abgate.errors import ConfigError
from abgate.gateway.config import (
    BreakerSettings,
    ExperimentSpec,
    GatewayConfig,
    config_from_dict,
    default_config,
    load_config,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "experiment.yaml"

MODELS = """\
models:
  - {name: baseline-predictor}
  - {name: enhanced-predictor, version: 3}
"""
EXPERIMENT = """\
experiments:
  - name: exp
    default: baseline-predictor
    candidates: [{name: baseline-predictor, weight: 70}, {name: enhanced-predictor, weight: 30}]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "experiment.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    """The lines of the ConfigError for ``text``, each without its ``<file>: `` prefix."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    lines = str(info.value).splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert not any("pydantic" in line or "Traceback" in line for line in lines)
    return [line.removeprefix(f"{path}: ") for line in lines]


def problem(tmp_path: Path, text: str) -> str:
    (line,) = problems(tmp_path, text)
    return line


def test_example_file_is_valid() -> None:
    cfg = load_config(EXAMPLE)
    assert [m.name for m in cfg.models] == [
        "baseline-predictor",
        "enhanced-predictor",
        "remote-model",
    ]
    exp = cfg.experiments[0]
    assert exp.name == "financial-ab-test-experiment"
    assert exp.weights() == {"baseline-predictor": 70.0, "enhanced-predictor": 30.0}
    assert exp.sticky_header == "x-user-id"
    assert exp.effective_salt == "financial-ab-test-experiment"
    remote = cfg.models[2]
    assert remote.is_remote and remote.version is None and remote.remote_name == "iris"
    assert cfg.breaker == BreakerSettings()
    assert cfg.experiment_for_default("baseline-predictor") is exp
    assert cfg.get_experiment("nope") is None
    assert cfg.get_model("remote-model") is remote


def test_long_form_and_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MODELS + EXPERIMENT))
    assert [m.version for m in cfg.models] == ["latest", 3]
    assert not cfg.models[0].is_remote
    assert cfg.models[0].timeout_ms == 1000.0
    assert cfg.signal.buy_above == 0.55
    assert cfg.faults == {}


def test_shorthand_is_normalised_to_the_long_form(tmp_path: Path) -> None:
    shorthand = MODELS + textwrap.dedent("""\
        name: exp
        default: baseline-predictor
        candidates: [{name: baseline-predictor, weight: 70}, {name: enhanced-predictor, weight: 30}]
    """)
    assert load_config(write(tmp_path, shorthand)) == load_config(
        write(tmp_path, MODELS + EXPERIMENT)
    )


def test_config_is_frozen() -> None:
    cfg = default_config()
    with pytest.raises(ValidationError):
        cfg.experiments[0].candidates[0].weight = 1.0


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read: No such file"):
        load_config(tmp_path / "nope.yaml")


def test_yaml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    message = problem(tmp_path, "models:\n  - name: [unclosed\n")
    assert message.startswith("line 3, column 1: invalid YAML:")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "expected a mapping at the top level, got an empty document"),
        ("- a\n", "expected a mapping at the top level, got list"),
    ],
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, expected: str) -> None:
    assert problem(tmp_path, text) == expected


R = "  - {name: r, %s}\n"  # a third model with the given fields
EXP2 = EXPERIMENT.replace("experiments:\n", "")
ONE_DEFAULT = EXPERIMENT.replace("default: baseline-predictor", "default: %s")
BAD_FIELDS = {
    "negative-weight": (
        MODELS + EXPERIMENT.replace("weight: 30", "weight: -1"),
        "experiments[0].candidates[1].weight: must be ≥ 0",
    ),
    "infinite-weight": (
        MODELS + EXPERIMENT.replace("weight: 30", "weight: .inf"),
        "experiments[0].candidates[1].weight: must be a finite number",
    ),
    "all-zero-weights": (
        MODELS + EXPERIMENT.replace("70", "0").replace("30", "0"),
        "experiments[0].candidates: at least one candidate needs weight > 0",
    ),
    "unknown-candidate": (
        MODELS + EXPERIMENT.replace("candidates: [", "candidates: [{name: x, weight: 1}, "),
        "experiments[0].candidates[0].name: unknown model 'x' (models: baseline-predictor, ",
    ),
    "unknown-default": (
        MODELS + ONE_DEFAULT % "ghost",
        "experiments[0].default: 'ghost' must be one of the candidates",
    ),
    "default-not-a-candidate": (
        MODELS + R % "version: 1" + ONE_DEFAULT % "r",
        "experiments[0].default: 'r' must be one of the candidates",
    ),
    "unknown-mirror": (
        MODELS + EXPERIMENT + "    mirror: {name: ghost, percent: 5}\n",
        "experiments[0].mirror.name: unknown model 'ghost'",
    ),
    "mirror-zero": (
        MODELS + EXPERIMENT + "    mirror: {name: enhanced-predictor, percent: 0}\n",
        "experiments[0].mirror.percent: must be > 0",
    ),
    "mirror-over-100": (
        MODELS + EXPERIMENT + "    mirror: {name: enhanced-predictor, percent: 100.5}\n",
        "experiments[0].mirror.percent: must be ≤ 100",
    ),
    "bad-header": (
        MODELS + EXPERIMENT + "    sticky_header: x user\n",
        "experiments[0].sticky_header: 'x user' is not an HTTP header name",
    ),
    "unknown-field": (
        MODELS + EXPERIMENT + "    colour: blue\n",
        "experiments[0].colour: unknown field",
    ),
    "bad-experiment-name": (
        MODELS + EXPERIMENT.replace("name: exp", "name: Exp_1"),
        "experiments[0].name: 'Exp_1' is not a DNS-1123 label",
    ),
    "duplicate-experiment": (MODELS + EXPERIMENT + EXP2, "experiments: duplicate name 'exp'"),
    "shared-default": (
        MODELS + EXPERIMENT + EXP2.replace("name: exp", "name: exp2"),
        "experiments[1].default: 'baseline-predictor' is already the default of 'exp'",
    ),
    "duplicate-candidate": (
        MODELS + EXPERIMENT.replace("name: enhanced-predictor,", "name: baseline-predictor,"),
        "experiments[0].candidates: duplicate candidate 'baseline-predictor'",
    ),
    "duplicate-model": (
        MODELS + "  - {name: baseline-predictor}\n",
        "models: duplicate name 'baseline-predictor'",
    ),
    "no-models": ("models: []\n", "models: must have at least 1 item(s)"),
    "models-missing": ("experiments: []\n", "models: required"),
    "version-and-url": (
        MODELS + R % "url: 'http://h:1', version: 2",
        "models[2]: give either version (registry model) or url (remote model), not both",
    ),
    "remote-name-without-url": (
        MODELS + R % "remote_name: iris",
        "models[2]: remote_name and remote_version need url",
    ),
    "bad-url-scheme": (
        MODELS + R % "url: 'ftp://h'",
        "models[2]: url must start with http:// or https://",
    ),
    "version-zero": (
        MODELS + R % "version: 0",
        "models[2].version: must be 'latest' or a positive integer, got 0",
    ),
    "version-word": (MODELS + R % "version: newest", "models[2].version: must be 'latest' or "),
    "timeout-zero": (MODELS + R % "timeout_ms: 0", "models[2].timeout_ms: must be > 0"),
    "fault-unknown-model": (
        MODELS + "faults: {ghost: {down: true}}\n",
        "faults.ghost: unknown model 'ghost'",
    ),
    "fault-rate-over-1": (
        MODELS + "faults: {baseline-predictor: {error_rate: 1.5}}\n",
        "faults.baseline-predictor.error_rate: must be ≤ 1",
    ),
    "signal-order": (
        MODELS + "signal: {buy_above: 0.4, sell_below: 0.45}\n",
        "signal: buy_above (0.4) must be > sell_below (0.45)",
    ),
    "signal-range": (MODELS + "signal: {buy_above: 1.2}\n", "signal.buy_above: must be ≤ 1"),
    "breaker-min-calls": (
        MODELS + "breaker: {window: 5, min_calls: 6}\n",
        "breaker: min_calls (6) must be ≤ window (5)",
    ),
    "breaker-rate-zero": (
        MODELS + "breaker: {failure_rate: 0}\n",
        "breaker.failure_rate: must be > 0",
    ),
    "breaker-no-probes": (
        MODELS + "breaker: {half_open_max_calls: 0}\n",
        "breaker.half_open_max_calls: must be ≥ 1",
    ),
}


@pytest.mark.parametrize(("text", "expected"), BAD_FIELDS.values(), ids=BAD_FIELDS.keys())
def test_problems_name_the_field_path(tmp_path: Path, text: str, expected: str) -> None:
    assert any(line.startswith(expected) for line in problems(tmp_path, text))


def test_exact_message_for_a_negative_weight(tmp_path: Path) -> None:
    path = write(tmp_path, MODELS + EXPERIMENT.replace("weight: 30", "weight: -1"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: experiments[0].candidates[1].weight: must be ≥ 0"
    assert isinstance(info.value.__cause__, ValidationError)


def test_every_problem_is_reported_in_one_error(tmp_path: Path) -> None:
    text = MODELS + "  - {name: Bad}\nsignal: {buy_above: 2}\n"
    assert problems(tmp_path, text) == [
        "models[2].name: 'Bad' is not a DNS-1123 label",
        "signal.buy_above: must be ≤ 1",
    ]


def test_shorthand_paths_have_no_experiments_prefix(tmp_path: Path) -> None:
    text = MODELS + "name: exp\ncandidates: [{name: baseline-predictor, weight: -2}]\n"
    assert problem(tmp_path, text) == "candidates[0].weight: must be ≥ 0"
    text = MODELS + "candidates: [{name: baseline-predictor, weight: 1}]\n"
    assert problem(tmp_path, text) == "name: required"


def test_shorthand_and_experiments_together_is_an_error(tmp_path: Path) -> None:
    assert "give either experiments or top-level name, not both" in problem(
        tmp_path, MODELS + EXPERIMENT + "name: other\n"
    )


def test_header_name_is_lower_cased_and_versions_coerced() -> None:
    cfg = config_from_dict(
        {
            "models": [
                {"name": "a", "version": "7"},
                {"name": "r", "url": "https://h", "remote_version": 2},
            ],
            "name": "e",
            "candidates": [{"name": "a", "weight": 1}],
            "sticky_header": "X-User-Id",
            "salt": "s",
        }
    )
    assert cfg.experiments[0].sticky_header == "x-user-id"
    assert cfg.experiments[0].effective_salt == "s"
    assert cfg.models[0].version == 7
    assert cfg.models[1].remote_version == "2"


def test_config_from_dict_names_its_source() -> None:
    with pytest.raises(ConfigError, match=r"^cli: models: required$"):
        config_from_dict({}, "cli")


def test_default_config() -> None:
    cfg = default_config()
    assert isinstance(cfg, GatewayConfig)
    assert [(m.name, m.version) for m in cfg.models] == [
        ("baseline-predictor", "latest"),
        ("enhanced-predictor", "latest"),
    ]
    (exp,) = cfg.experiments
    assert isinstance(exp, ExperimentSpec)
    assert (exp.name, exp.default) == ("financial-ab-test-experiment", "baseline-predictor")
    assert exp.weights() == {"baseline-predictor": 70.0, "enhanced-predictor": 30.0}
    assert exp.mirror is None and exp.sticky_header is None


def test_default_config_adds_other_registry_models() -> None:
    names = ["enhanced-predictor", "baseline-predictor", "lstm-small"]
    cfg = default_config(registry_names=names)
    assert [m.name for m in cfg.models] == sorted(names)
    assert cfg.experiments[0].weights() == {"baseline-predictor": 70.0, "enhanced-predictor": 30.0}


def test_default_config_needs_both_predictors_in_the_registry() -> None:
    with pytest.raises(ConfigError, match="lacks enhanced-predictor \\(has: baseline-predictor\\)"):
        default_config(registry_names=["baseline-predictor"])
    with pytest.raises(ConfigError, match="has: nothing"):
        default_config(registry_names=[])
