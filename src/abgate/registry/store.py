"""The model registry: ``<root>/<name>/<version>/{model.onnx, card.json, model-settings.json}``.

Versions are positive integers; registering writes a complete folder under a temporary name and
renames it into place, so a reader never sees a half-written version. Torch-free: serving reads
the registry with ONNX Runtime only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from abgate.errors import RegistryError
from abgate.market.windows import Samples
from abgate.registry.card import ModelCard

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
MLSERVER_RUNTIME = "abgate.serving.mlserver_runtime.DirectionRuntime"


@dataclass(frozen=True)
class ModelVersion:
    """One registered model version on disk."""

    name: str
    version: int
    path: Path
    card: ModelCard

    @property
    def onnx_path(self) -> Path:
        return self.path / "model.onnx"

    @property
    def heldout_path(self) -> Path:
        return self.path / "heldout.npz"

    @property
    def route_name(self) -> str:
        """``<model>_<version>`` as Seldon names a variant (``x-seldon-route``)."""
        return f"{self.name}_{self.version}"

    def verify(self) -> None:
        """Raise :class:`RegistryError` if ``model.onnx`` is not the file the card describes."""
        digest = sha256_file(self.onnx_path)
        if digest != self.card.onnx_sha256:
            raise RegistryError(
                f"{self.onnx_path}: sha256 {digest[:12]}… does not match the card "
                f"({self.card.onnx_sha256[:12]}…); the model file was changed"
            )

    def load_heldout(self) -> Samples:
        return load_samples(self.heldout_path)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_samples(path: Path, samples: Samples) -> None:
    np.savez_compressed(
        path,
        tickers=samples.tickers.astype(str),
        dates=samples.dates.astype("datetime64[D]").astype(str),
        windows=samples.windows.astype(np.float32),
        labels=samples.labels.astype(np.int64),
        next_returns=samples.next_returns.astype(np.float64),
    )


def load_samples(path: Path) -> Samples:
    if not path.exists():
        raise RegistryError(f"{path}: held-out scenarios are missing; retrain the model")
    with np.load(path, allow_pickle=False) as z:
        return Samples(
            tickers=z["tickers"],
            dates=z["dates"].astype("datetime64[D]"),
            windows=z["windows"],
            labels=z["labels"],
            next_returns=z["next_returns"],
        )


class Registry:
    """A folder of registered model versions."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and NAME_RE.match(p.name))

    def versions(self, name: str) -> list[int]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        return sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit())

    def is_empty(self) -> bool:
        return not any(self.versions(n) for n in self.names())

    def get(self, name: str, version: int | str = "latest") -> ModelVersion:
        versions = self.versions(name)
        if not versions:
            known = ", ".join(self.names()) or "none"
            raise RegistryError(
                f"no model {name!r} in registry {self.root} (registered: {known}); "
                "run `abgate train`"
            )
        if version == "latest":
            number = versions[-1]
        else:
            try:
                number = int(version)
            except (TypeError, ValueError):
                raise RegistryError(
                    f"version must be an integer or 'latest', got {version!r}"
                ) from None
            if number not in versions:
                raise RegistryError(
                    f"model {name!r} has no version {number} (versions: "
                    f"{', '.join(map(str, versions))})"
                )
        path = self.root / name / str(number)
        return ModelVersion(name, number, path, _read_card(path / "card.json"))

    def all(self) -> list[ModelVersion]:
        return [self.get(n, v) for n in self.names() for v in self.versions(n)]

    def register(
        self,
        name: str,
        onnx_bytes: bytes,
        card_fields: dict[str, Any],
        heldout: Samples | None = None,
    ) -> ModelVersion:
        """Store a new version of ``name``; ``card_fields`` lacks ``name``/``version``/sha256."""
        if not NAME_RE.match(name):
            raise RegistryError(f"invalid model name {name!r}: use lowercase letters, digits, '-'")
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=folder))
        tmp.chmod(0o755)  # mkdtemp makes it private; a registry is shared read-only
        try:
            (tmp / "model.onnx").write_bytes(onnx_bytes)
            if heldout is not None:
                save_samples(tmp / "heldout.npz", heldout)
            while True:
                version = (self.versions(name) or [0])[-1] + 1
                card = ModelCard(
                    name=name,
                    version=version,
                    onnx_sha256=hashlib.sha256(onnx_bytes).hexdigest(),
                    **card_fields,
                )
                (tmp / "card.json").write_text(card.model_dump_json(indent=2) + "\n")
                (tmp / "model-settings.json").write_text(
                    json.dumps(mlserver_settings(card), indent=2) + "\n"
                )
                try:
                    os.rename(tmp, folder / str(version))
                    break
                except OSError:  # another process took this number: try the next
                    continue
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return self.get(name, version)


def mlserver_settings(card: ModelCard) -> dict[str, Any]:
    """``model-settings.json`` for MLServer's custom-runtime loader."""
    return {
        "name": card.name,
        "implementation": MLSERVER_RUNTIME,
        "parameters": {"uri": "./model.onnx", "version": str(card.version)},
        "inputs": [i.model_dump() for i in card.inputs],
        "outputs": [o.model_dump() for o in card.outputs],
    }


def _read_card(path: Path) -> ModelCard:
    try:
        return ModelCard.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise RegistryError(f"{path}: missing model card") from None
    except ValidationError as exc:
        raise RegistryError(f"{path}: invalid model card ({exc.error_count()} problems)") from exc
