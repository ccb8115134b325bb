"""Shared fixtures and hypothesis profiles (``ci`` is chosen when CI=true)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

import painreason
from painreason.engine import _durable_available

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

BACKENDS = ["python", "durable"] if _durable_available() else ["python"]


@pytest.fixture(scope="session")
def kb() -> painreason.Knowledge:
    return painreason.load_knowledge()


@pytest.fixture(scope="session")
def engines(kb: painreason.Knowledge) -> dict[str, painreason.Engine]:
    return {b: painreason.Engine(kb, backend=b) for b in BACKENDS}  # type: ignore[arg-type]
