"""Streams of distinct, valid cases for the shipped knowledge, shaped like the golden ones.

Each case starts from a golden case (cycling through them), drops each finding with
probability 0.15, records up to three more findings of the vocabulary with random valid
values, and draws the patient's age and sex. Cases are nearly all distinct, so a cache keyed
by whole cases would not help (the engine has none); values repeat, as real findings' do.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import painreason
from painreason.case import Case, observe
from painreason.errors import CaseError
from painreason.golden import load_golden
from painreason.vocabulary import FindingDef, FindingKind


def value(f: FindingDef, rng: random.Random) -> Any:
    """A random valid raw value for finding ``f``."""
    if f.kind is FindingKind.BOOLEAN:
        if rng.random() < 0.5:
            return "absent"
        if not f.lateralised and not f.levels:
            return "present"
        raw: dict[str, Any] = {"present": True}
        if f.lateralised:
            raw["side"] = rng.choice(["left", "right", "bilateral"])
        if f.levels:
            raw["levels"] = [rng.choice(list(f.levels))]
        return raw
    if f.kind is FindingKind.CATEGORICAL:
        scalar: Any = rng.choice(list(f.values or ()))
    else:
        lo, hi = f.bounds or (0.0, 1.0)
        if f.kind is FindingKind.ORDINAL:
            scalar = rng.randint(int(lo), int(hi))
        else:
            scalar = round(rng.uniform(lo, min(hi, lo + 3 * max(1.0, (hi - lo) / 10))), 1)
    if f.lateralised:
        return {"left": scalar, "right": scalar} if rng.random() < 0.5 else {"left": scalar}
    return scalar


def shipped_cases(kb: painreason.Knowledge, n: int, seed: int = 0) -> Iterator[Case]:
    """``n`` distinct valid cases over the shipped knowledge (see the module docstring)."""
    rng = random.Random(seed)
    golden = [g.case for g in load_golden(kb)]
    vocab = [kb.findings[k] for k in sorted(kb.findings) if k not in ("age", "sex")]
    made = 0
    while made < n:
        base = golden[made % len(golden)]
        findings = {k: v for k, v in base.findings.items() if rng.random() >= 0.15}
        for f in rng.sample(vocab, rng.randint(0, 3)):
            findings.setdefault(f.id, value(f, rng))
        patient = {"age": rng.randint(18, 90), "sex": rng.choice(["female", "male"])}
        findings.pop("age", None)
        findings.pop("sex", None)
        raw = {"id": f"s{made}", "patient": patient, "findings": findings}
        try:
            case = Case.from_dict(raw)
            observe(case, kb)
        except CaseError:
            continue
        made += 1
        yield case
