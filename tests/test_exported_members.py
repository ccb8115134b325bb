"""The public API is exactly ``painreason.__all__``, sorted."""

from __future__ import annotations

import painreason


def test_all_is_sorted_and_complete() -> None:
    assert painreason.__all__ == sorted(painreason.__all__)
    for name in painreason.__all__:
        assert hasattr(painreason, name), name


def test_public_names() -> None:
    public = {n for n in dir(painreason) if not n.startswith("_")}
    modules = {
        "batch",
        "case",
        "cli",
        "engine",
        "errors",
        "export",
        "golden",
        "lint",
        "loader",
        "results",
        "rules",
        "testing",
        "trace",
        "vignettes",
        "vocabulary",
        "whatif",
        "whynot",
    }
    assert public - modules == set(painreason.__all__) - {"__version__"}
