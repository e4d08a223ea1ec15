"""Rows of a summary table from a metrics report (house JSON shape), shared by every metrics module."""

from __future__ import annotations


def formatted_rows(report: dict, rows: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """(label, formatted value) for ``(key, label, format)`` rows; ``n`` is the report's count, None prints "-"."""
    out = []
    for key, label, fmt in rows:
        value = report["n"] if key == "n" else report["metrics"][key]
        out.append((label, "-" if value is None else fmt.format(value)))
    return out
