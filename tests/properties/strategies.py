"""Moved to :mod:`painreason.testing.strategies`; this re-export keeps older test modules
working. Import from ``painreason.testing.strategies`` in new code."""

from __future__ import annotations

from painreason.testing.strategies import (
    CONDITIONS,
    FINDINGS,
    TESTS,
    actions,
    cases,
    knowledge_files,
    load_pack,
    predicates,
    rule_packs,
    write_pack,
)
from painreason.testing.strategies import when_trees as conditions

__all__ = [
    "CONDITIONS",
    "FINDINGS",
    "TESTS",
    "actions",
    "cases",
    "conditions",
    "knowledge_files",
    "load_pack",
    "predicates",
    "rule_packs",
    "write_pack",
]
