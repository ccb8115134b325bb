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
from .trace import Trace
from .whatif import ResultDiff, diff_results, next_findings, what_if
from .whynot import WhyNot, why_not

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
