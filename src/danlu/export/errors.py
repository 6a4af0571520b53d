"""Typed errors of export, quantization and Modelfile builds (one line each at the CLI)."""

from __future__ import annotations

from danlu.errors import DanluError, InvalidParameter, InvalidRequest


class ExportError(DanluError):
    """A step of an export (merge, conversion, quantization) failed; nothing was stored."""

    status = 500
    code = "export_failed"


class UnsupportedArchitecture(InvalidRequest):
    """llama.cpp's converter has no mapping for this model architecture."""

    code = "unsupported_architecture"


class UnknownQuantType(InvalidParameter):
    """A quantization type llama.cpp does not offer."""

    code = "unknown_quant_type"


class ImatrixRequired(InvalidParameter):
    """A quantization type llama.cpp offers only with an importance matrix (IQ1/IQ2, Q2_K_S)."""

    code = "imatrix_required"


class ParityFailed(DanluError):
    """The f16 export does not reproduce the trained model; it was not registered."""

    status = 422
    code = "parity_failed"
