"""The data formats by name: one module each. Detection tries them in this order."""

from __future__ import annotations

from danlu.train.data.examples import DataFormat
from danlu.train.data.formats import alpaca, dpo, messages, sharegpt, text, trace

FORMATS: dict[str, DataFormat] = {
    module.FORMAT.name: module.FORMAT for module in (trace, dpo, messages, sharegpt, alpaca, text)
}
