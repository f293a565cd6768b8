"""MLServer custom runtime serving an abgate ONNX model (``model-settings.json`` points here).

Used when the models run on MLServer (or Seldon Core v2, which runs MLServer) instead of inside
the gateway. Needs ``mlserver`` and ``onnxruntime``; not torch. The outputs match the gateway's
in-process backend: ``probability_up`` FP32 ``[batch, 1]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import InferenceError
from mlserver.types import InferenceRequest, InferenceResponse
from mlserver.utils import get_model_uri

INPUT_NAME = "ohlcv"
OUTPUT_NAME = "probability_up"


class DirectionRuntime(MLModel):  # type: ignore[misc]
    """ONNX Runtime session over ``model.onnx``; one intra-op thread per worker process."""

    async def load(self) -> bool:
        uri = await get_model_uri(self._settings)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(uri, opts, providers=["CPUExecutionProvider"])
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        matching = [i for i in payload.inputs if i.name == INPUT_NAME]
        if len(matching) != 1:
            raise InferenceError(f"expected one input named '{INPUT_NAME}'")
        batch: Any = NumpyCodec.decode_input(matching[0])
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.ndim != 3 or batch.shape[2] != 5:
            raise InferenceError(f"input '{INPUT_NAME}' must be [batch, window, 5]")
        (probs,) = self._session.run([OUTPUT_NAME], {INPUT_NAME: batch})
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            id=payload.id,
            outputs=[NumpyCodec.encode_output(OUTPUT_NAME, np.asarray(probs, dtype=np.float32))],
        )
