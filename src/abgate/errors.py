"""The one error hierarchy of abgate.

::

    AbgateError                  base of everything abgate raises on purpose
    ├── ConfigError              invalid configuration (YAML, flags, settings)
    ├── DataError                bad market data; names the file and line
    ├── ModelError               a model cannot be built, trained, exported or loaded
    │   └── ParityError          ONNX export disagrees with PyTorch
    ├── RegistryError            the model registry is missing, empty or inconsistent
    ├── StoreError               the event log cannot be opened or written
    └── ProtocolError            a client's request breaks the V2 protocol (carries an HTTP status)
        ├── NotFoundError        unknown model, version or experiment (404)
        └── UnavailableError     no model could answer (503)

Third-party errors are translated at the edge with ``raise X(...) from exc``. The CLI prints
``Error: <message>`` and exits non-zero; the HTTP layer returns ``{"error": "<message>"}``.
Programmer mistakes are ``ValueError``/``TypeError``, never these.
"""

from __future__ import annotations


class AbgateError(Exception):
    """Base class of all errors abgate raises deliberately."""


class ConfigError(AbgateError):
    """Configuration that cannot be used."""


class DataError(AbgateError):
    """Market data that cannot be used; the message names the file and line."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        where = ""
        if source is not None:
            where = f"{source}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        super().__init__(f"{where}{message}")
        self.source = source
        self.line = line


class ModelError(AbgateError):
    """A model cannot be built, trained, exported or loaded."""


class ParityError(ModelError):
    """The exported ONNX graph does not reproduce the PyTorch model."""


class RegistryError(AbgateError):
    """The model registry is missing, empty or inconsistent."""


class StoreError(AbgateError):
    """The event log cannot be opened or written."""


class ProtocolError(AbgateError):
    """A request that breaks the Open Inference Protocol; maps to an HTTP status."""

    status_code: int = 400

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        if status_code is not None:
            self.status_code = status_code


class NotFoundError(ProtocolError):
    """Unknown model, version or experiment."""

    status_code = 404


class UnavailableError(ProtocolError):
    """No model could answer the request."""

    status_code = 503
