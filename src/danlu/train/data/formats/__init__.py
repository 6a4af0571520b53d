"""The data formats by name: one module each. Detection tries them in this order."""

from __future__ import annotations

from danlu.train.data.examples import DataFormat
from danlu.train.data.formats import alpaca, dpo, messages, sharegpt, text

FORMATS: dict[str, DataFormat] = {
    module.FORMAT.name: module.FORMAT for module in (dpo, messages, sharegpt, alpaca, text)
}
