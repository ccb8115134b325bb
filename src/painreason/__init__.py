"""painreason: explainable, rule-based diagnostic reasoning about neck and back pain.

painreason is decision support for clinicians. It never replaces clinical judgement, and
it lists red flags before anything else.

Examples
--------
>>> import painreason
>>> result = painreason.evaluate(
...     {"patient": {"age": 45, "sex": "male"},
...      "findings": {"low_back_pain": "present", "saddle_anaesthesia": "present"}},
...     backend="python")
>>> result.red_flags[0].id
'cauda_equina_red_flag'
"""

from typing import TYPE_CHECKING as _TYPE_CHECKING

from .batch import evaluate_many
from .case import Case, Patient
from .engine import Engine, evaluate
from .errors import (
    BackendUnavailableError,
    CapacityError,
    CaseError,
    EngineError,
    KnowledgeError,
    PainreasonError,
    Problem,
    UnknownTargetError,
)
from .explain import Explanation, explain
from .loader import Knowledge, load_knowledge
from .results import NextFinding, Result
from .whatif import ResultDiff, diff_results, next_findings, what_if
from .whynot import WhyNot, why_not

if _TYPE_CHECKING:
    from .trace import Trace

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError",
    "CapacityError",
    "Case",
    "CaseError",
    "Engine",
    "EngineError",
    "Explanation",
    "Knowledge",
    "KnowledgeError",
    "NextFinding",
    "PainreasonError",
    "Patient",
    "Problem",
    "Result",
    "ResultDiff",
    "Trace",
    "UnknownTargetError",
    "WhyNot",
    "__version__",
    "diff_results",
    "evaluate",
    "evaluate_many",
    "explain",
    "load_knowledge",
    "next_findings",
    "what_if",
    "why_not",
]

# Imported on first use: the trace module imports networkx (about 170 ms), which loading
# knowledge and evaluating cases do not need.
_LAZY = {"Trace": "trace"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
