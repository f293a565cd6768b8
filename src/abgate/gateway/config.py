"""Experiment configuration (YAML); server settings live in :mod:`abgate.gateway.settings`.

Every problem with a config file comes out of :func:`load_config` as one ``ConfigError`` naming
the file and the field path: ``experiment.yaml: experiments[0].candidates[1].weight: must be ≥ 0``.
"""

from __future__ import annotations

import itertools
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from abgate.errors import ConfigError

DEFAULT_EXPERIMENT = "financial-ab-test-experiment"
BASELINE_MODEL = "baseline-predictor"
CANDIDATE_MODEL = "enhanced-predictor"
_SHORTHAND_KEYS = (
    "name",
    "default",
    "candidates",
    "mirror",
    "sticky_header",
    "salt",
    "rollout",
    "allocation",
)


def _matching(pattern: str, what: str) -> Callable[[str], str]:
    regex = re.compile(pattern)

    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return check


Name = Annotated[
    str, AfterValidator(_matching(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", "a DNS-1123 label"))
]
# Lower-cased because ASGI servers hand over header names in lower case.
HeaderName = Annotated[
    str,
    AfterValidator(_matching(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", "an HTTP header name")),
    AfterValidator(str.lower),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ModelSpec(_Strict):
    """A model the gateway can call: from the local registry (``version``) or remote (``url``)."""

    model_config = ConfigDict(coerce_numbers_to_str=True)  # `remote_version: 1` in YAML is an int

    name: Name
    """Name clients address and metrics carry; a DNS-1123 label, as in Seldon."""
    version: Literal["latest"] | int | None = None
    """Registry version, ``latest`` or a positive integer; ``latest`` unless ``url`` is set."""
    url: str | None = None
    """Base URL of a remote V2 server (``http://host:port``) used instead of the registry."""
    remote_name: str | None = None
    """Model name at the remote server; defaults to ``name``."""
    remote_version: str | None = None
    """Model version at the remote server; ``None`` calls the unversioned endpoint."""
    timeout_ms: float = Field(default=1000.0, gt=0, allow_inf_nan=False)
    """Deadline of one call to this model, in milliseconds."""

    @field_validator("version", mode="before")
    @classmethod
    def _check_version(cls, value: Any) -> Any:
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if value in (None, "latest") or (type(value) is int and value > 0):
            return value
        raise ValueError(f"must be 'latest' or a positive integer, got {value!r}")

    @model_validator(mode="before")
    @classmethod
    def _latest_by_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("url") is None and data.get("version") is None:
            return {**data, "version": "latest"}
        return data

    @model_validator(mode="after")
    def _version_or_url(self) -> ModelSpec:
        if self.url is None:
            if self.remote_name is not None or self.remote_version is not None:
                raise ValueError("remote_name and remote_version need url")
        elif self.version is not None:
            raise ValueError("give either version (registry model) or url (remote model), not both")
        elif not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {self.url!r}")
        return self

    @property
    def is_remote(self) -> bool:
        """True when a remote V2 server serves this model."""
        return self.url is not None


class Candidate(_Strict):
    """One arm of an experiment."""

    name: Name
    """Model name; must be listed under ``models``."""
    weight: float = Field(ge=0, allow_inf_nan=False)
    """Relative weight: the arm gets weight / (sum of weights) of the traffic."""


class Mirror(_Strict):
    """Shadow traffic: a copy of some requests goes to this model; its reply is never returned."""

    name: Name
    """Model name; must be listed under ``models``."""
    percent: float = Field(gt=0, le=100, allow_inf_nan=False)
    """Share of requests copied, in percent, in (0, 100]."""


class RolloutPolicy(_Strict):
    """Progressive delivery of the candidate, gated by the statistics engine."""

    steps: list[float] = Field(default=[5.0, 10.0, 30.0, 50.0, 100.0], min_length=1)
    """Candidate traffic share at each step, in percent, increasing; the last may be 100."""
    min_samples: int = Field(default=200, ge=1)
    """Scored predictions (all arms) required at a step before it may advance."""
    check_interval_s: float = Field(default=10.0, gt=0)
    """Seconds between checks."""
    max_duration_s: float = Field(default=86_400.0, gt=0)
    """Pause (as Argo Rollouts does) when still inconclusive after this long."""
    webhook: str | None = None
    """Optional URL; every transition is POSTed to it as JSON (best effort)."""

    @field_validator("steps")
    @classmethod
    def _increasing(cls, steps: list[float]) -> list[float]:
        if any(not 0 < s <= 100 for s in steps):
            raise ValueError("steps are percentages in (0, 100]")
        if any(b <= a for a, b in itertools.pairwise(steps)):
            raise ValueError("steps must increase")
        if steps[0] >= 100:
            raise ValueError("needs at least one step below 100 (100 % is reached by promotion)")
        return steps


class Allocation(_Strict):
    """How traffic is split: fixed weights, or a Thompson-sampling bandit."""

    policy: Literal["fixed", "thompson"] = "fixed"
    """``thompson``: shares follow P(arm is best) under Beta(1,1) posteriors of accuracy."""
    min_share: float = Field(default=0.05, ge=0.0, lt=0.5)
    """Floor of every arm's share under the bandit, so no arm stops learning."""
    update_interval_s: float = Field(default=1.0, gt=0)
    """Seconds between recomputations of the bandit's shares."""


class ExperimentSpec(_Strict):
    """A Seldon Core v2 style experiment: a weighted split between candidate models."""

    name: Name
    """Experiment name; clients address it with header ``seldon-model: <name>.experiment``."""
    default: Name | None = None
    """Model whose endpoint is re-pointed to this experiment: calls to it get the split."""
    candidates: list[Candidate] = Field(min_length=1)
    """The arms and their weights."""
    mirror: Mirror | None = None
    """Optional shadow model that receives a copy of the traffic."""
    sticky_header: HeaderName | None = None
    """Request header whose value is the assignment unit (hash assignment); stored lower-case."""
    salt: str | None = None
    """Salt of the assignment hash; ``None`` uses the experiment name."""
    rollout: RolloutPolicy | None = None
    """Optional progressive rollout of the (single) non-default candidate."""
    allocation: Allocation = Field(default_factory=Allocation)
    """Fixed weights (default) or a Thompson-sampling bandit."""

    @property
    def effective_salt(self) -> str:
        """The salt hash assignment actually uses."""
        return self.name if self.salt is None else self.salt

    def weights(self) -> dict[str, float]:
        """Candidate name → weight, in config order."""
        return {c.name: c.weight for c in self.candidates}


class BreakerSettings(_Strict):
    """Circuit breaker thresholds, the same for every model."""

    consecutive_failures: int = Field(default=5, ge=1)
    """Open after this many failures in a row."""
    window: int = Field(default=20, ge=1)
    """Number of recent calls in the sliding window for the failure rate."""
    failure_rate: float = Field(default=0.5, gt=0, le=1)
    """Open when the failure share of the window reaches this."""
    min_calls: int = Field(default=10, ge=1)
    """The failure rate is judged only once the window holds this many calls (≤ window)."""
    cooldown_s: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    """Seconds an open breaker waits before letting probe calls through."""
    half_open_max_calls: int = Field(default=1, ge=1)
    """Concurrent probe calls allowed while half-open."""

    @model_validator(mode="after")
    def _min_calls_fit(self) -> BreakerSettings:
        if self.min_calls > self.window:
            raise ValueError(f"min_calls ({self.min_calls}) must be ≤ window ({self.window})")
        return self


class SignalSettings(_Strict):
    """Thresholds turning a predicted probability of an up day into buy / sell / hold."""

    buy_above: float = Field(default=0.55, ge=0, le=1)
    """Buy when the probability is above this."""
    sell_below: float = Field(default=0.45, ge=0, le=1)
    """Sell when the probability is below this; in between is hold."""

    @model_validator(mode="after")
    def _ordered(self) -> SignalSettings:
        if self.buy_above <= self.sell_below:
            raise ValueError(
                f"buy_above ({self.buy_above}) must be > sell_below ({self.sell_below})"
            )
        return self


class FaultSettings(_Strict):
    """Faults injected into calls to one model (tests and demos)."""

    error_rate: float = Field(default=0.0, ge=0, le=1)
    """Probability that a call fails."""
    latency_ms: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    """Latency added to every call, in milliseconds."""
    down: bool = False
    """Every call fails at once."""


class GatewayConfig(_Strict):
    """Everything the gateway routes by: models, experiments, breaker, signal, faults."""

    models: list[ModelSpec] = Field(min_length=1)
    """Models the gateway can call."""
    experiments: list[ExperimentSpec] = Field(default_factory=list)
    """Experiments splitting traffic between models."""
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    """Circuit breaker thresholds."""
    signal: SignalSettings = Field(default_factory=SignalSettings)
    """Buy / sell thresholds."""
    faults: dict[str, FaultSettings] = Field(default_factory=dict)
    """Model name → injected faults."""

    @model_validator(mode="before")
    @classmethod
    def _expand_shorthand(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not (keys := [k for k in _SHORTHAND_KEYS if k in data]):
            return data
        if "experiments" in data:
            raise ValueError(f"give either experiments or top-level {', '.join(keys)}, not both")
        rest = {k: v for k, v in data.items() if k not in keys}
        return {**rest, "experiments": [{k: data[k] for k in keys}]}

    @model_validator(mode="after")
    def _cross_check(self) -> GatewayConfig:
        if problems := _cross_problems(self):
            raise ValueError("\n".join(problems))
        return self

    def get_model(self, name: str) -> ModelSpec | None:
        """The model called ``name``, if any."""
        return next((m for m in self.models if m.name == name), None)

    def get_experiment(self, name: str) -> ExperimentSpec | None:
        """The experiment called ``name``, if any."""
        return next((e for e in self.experiments if e.name == name), None)

    def experiment_for_default(self, model: str) -> ExperimentSpec | None:
        """The experiment whose ``default`` is ``model`` (calls to it get the split), if any."""
        return next((e for e in self.experiments if e.default == model), None)


def _duplicates(names: Iterable[str]) -> list[str]:
    return [name for name, count in Counter(names).items() if count > 1]


def _cross_problems(cfg: GatewayConfig) -> list[str]:
    known = {m.name for m in cfg.models}
    out = [f"models: duplicate name {n!r}" for n in _duplicates(m.name for m in cfg.models)]
    out += [
        f"experiments: duplicate name {n!r}" for n in _duplicates(e.name for e in cfg.experiments)
    ]
    refs = [(f"faults.{name}", name) for name in cfg.faults]
    defaults: dict[str, str] = {}
    for i, exp in enumerate(cfg.experiments):
        at, names = f"experiments[{i}]", [c.name for c in exp.candidates]
        refs += [(f"{at}.candidates[{j}].name", n) for j, n in enumerate(names)]
        refs += [(f"{at}.mirror.name", exp.mirror.name)] if exp.mirror else []
        out += [f"{at}.candidates: duplicate candidate {n!r}" for n in _duplicates(names)]
        if all(c.weight == 0 for c in exp.candidates):
            out.append(f"{at}.candidates: at least one candidate needs weight > 0")
        if exp.rollout is not None and (exp.default is None or len(names) != 2):
            out.append(f"{at}.rollout: needs a default and exactly one other candidate to roll out")
        if exp.allocation.policy == "thompson" and exp.allocation.min_share * len(names) > 1:
            out.append(f"{at}.allocation.min_share: floors of all arms exceed 100%")
        if exp.default is None:
            continue
        if exp.default not in names:
            out.append(f"{at}.default: {exp.default!r} must be one of the candidates")
        if (other := defaults.setdefault(exp.default, exp.name)) != exp.name:
            out.append(f"{at}.default: {exp.default!r} is already the default of {other!r}")
    known_txt = ", ".join(sorted(known))
    out += [f"{p}: unknown model {n!r} (models: {known_txt})" for p, n in refs if n not in known]
    return out


_MESSAGES = {
    "missing": "required",
    "extra_forbidden": "unknown field",
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be ≥ {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be ≤ {le}",
    "too_short": "must have at least {min_length} item(s)",
    "finite_number": "must be a finite number",
}


def _plain(value: Any) -> Any:
    # Bounds of float fields arrive as floats: say "≥ 0", not "≥ 0.0".
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _problems(exc: ValidationError, shorthand: bool = False) -> list[str]:
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        ctx = {k: _plain(v) for k, v in err.get("ctx", {}).items()}
        msg = str(ctx["error"]) if err["type"] == "value_error" else err["msg"]
        msg = _MESSAGES.get(err["type"], msg).format(**ctx)
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        lines += [f"{where.lstrip('.')}: {line}" if where else line for line in msg.splitlines()]
    if shorthand:  # the user wrote no `experiments:` list, so do not show one in the path
        lines = [re.sub(r"^experiments\[0\](\.|: )", "", line) for line in lines]
    return list(dict.fromkeys(lines))


def config_from_dict(data: Any, source: str = "<config>") -> GatewayConfig:
    """Validate parsed config data; any problem becomes one ``ConfigError`` naming ``source``."""
    if not isinstance(data, Mapping):
        kind = "an empty document" if data is None else type(data).__name__
        raise ConfigError(f"{source}: expected a mapping at the top level, got {kind}")
    shorthand = "experiments" not in data and any(k in data for k in _SHORTHAND_KEYS)
    try:
        return GatewayConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError("\n".join(f"{source}: {p}" for p in _problems(exc, shorthand))) from exc


def load_config(path: str | os.PathLike[str]) -> GatewayConfig:
    """Read and validate an experiment YAML file (see ``examples/experiment.yaml``)."""
    source = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{source}: {where}invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    return config_from_dict(data, source)


def default_config(*, registry_names: Iterable[str] | None = None) -> GatewayConfig:
    """The built-in experiment: baseline-predictor 70 / enhanced-predictor 30, latest versions.

    ``registry_names``, the models the registry holds, must include both predictors; the other
    registry models are added too, so clients can call them directly.
    """
    have = set(registry_names) if registry_names is not None else set()
    if registry_names is not None and (missing := {BASELINE_MODEL, CANDIDATE_MODEL} - have):
        has = ", ".join(sorted(have)) or "nothing"
        raise ConfigError(f"the model registry lacks {', '.join(sorted(missing))} (has: {has})")
    data = {
        "models": [{"name": n} for n in sorted(have | {BASELINE_MODEL, CANDIDATE_MODEL})],
        "name": DEFAULT_EXPERIMENT,
        "default": BASELINE_MODEL,
        "candidates": [
            {"name": BASELINE_MODEL, "weight": 70},
            {"name": CANDIDATE_MODEL, "weight": 30},
        ],
    }
    return config_from_dict(data, "built-in default config")
