"""Export: trained runs and store models to GGUF, quantized, checked for parity, registered.

`export_run` (merge → convert → quantize → parity → register) and `quantize_model` (any
GGUF in the store) build in the store's staging folder and publish with one rename.
"""

from __future__ import annotations

from danlu.export.quantize import COMMON, check_quant_type, quant_types

__all__ = ["COMMON", "check_quant_type", "quant_types"]
