"""Sizes and counts as people read them (`98.4 MB`, `134.5M`): one spelling for the CLI,
the page and error messages."""

from __future__ import annotations


def human_size(n: int | None) -> str:
    """Bytes in decimal units; '-' when unknown."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


def human_params(n: int | None) -> str:
    """A parameter count with its scale (135M, 7.2B); '-' when unknown."""
    if not n:
        return "-"
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n / scale:.1f}{suffix}"
    return str(n)
