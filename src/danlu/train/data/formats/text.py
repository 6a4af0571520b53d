"""Plain text for continued pre-training: one `text` field per row, trained on whole."""

from __future__ import annotations

from typing import Any

from danlu.train.data.examples import DataFormat, TextExample, text_field


def detect(row: dict[str, Any]) -> bool:
    return "text" in row


def convert(row: dict[str, Any]) -> TextExample:
    return TextExample(text_field(row, "text"))


FORMAT = DataFormat("text", "text", "text: raw text (continued pre-training)", detect, convert)
