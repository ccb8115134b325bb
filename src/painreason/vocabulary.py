"""Knowledge entries: findings, conditions, red flags, tests and sources.

These are the validated, frozen models of the files under ``knowledge/``. The loader
(:mod:`painreason.loader`) reads the files into them and checks references between them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Code",
    "Condition",
    "FindingDef",
    "FindingKind",
    "RedFlag",
    "Section",
    "Source",
    "TestDef",
    "TestGroup",
    "Urgency",
]

Id = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
SIDES = ("left", "right")
ROOT_LEVELS = ("C5", "C6", "C7", "C8", "T1", "L2", "L3", "L4", "L5", "S1")
SCALES: dict[str, tuple[int, int]] = {"mrc": (0, 5), "reflex": (0, 4)}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Section(StrEnum):
    """Where in the clinical encounter a finding is recorded."""

    DEMOGRAPHICS = "demographics"
    HISTORY = "history"
    VITAL_SIGNS = "vital_signs"
    PHYSICAL_EXAM = "physical_exam"
    NEURO_EXAM = "neuro_exam"


class FindingKind(StrEnum):
    """How a finding's value is recorded."""

    BOOLEAN = "boolean"
    NUMERIC = "numeric"
    ORDINAL = "ordinal"
    CATEGORICAL = "categorical"


class Urgency(StrEnum):
    """Urgency of a red flag or a suggested test, most urgent first."""

    EMERGENCY = "emergency"
    URGENT = "urgent"
    ROUTINE = "routine"

    @property
    def rank(self) -> int:
        """0 for emergency, 1 for urgent, 2 for routine (lower is more urgent)."""
        return _URGENCY_RANK[self]


_URGENCY_RANK = {Urgency.EMERGENCY: 0, Urgency.URGENT: 1, Urgency.ROUTINE: 2}


class Code(_Model):
    """A code in a clinical terminology."""

    system: Literal["snomed", "loinc", "icd10cm", "ucum"]
    code: str = Field(min_length=1)
    display: str | None = None


class FindingDef(_Model):
    """One entry of the finding vocabulary.

    Examples
    --------
    >>> f = FindingDef(id="heart_rate", label="Heart rate", section="vital_signs",
    ...                kind="numeric", unit="/min", range=(20, 250), definition="Pulse.")
    >>> f.bounds
    (20.0, 250.0)
    """

    id: Id
    label: str = Field(min_length=1)
    section: Section
    kind: FindingKind
    definition: str = Field(min_length=1)
    unit: str | None = None
    range: tuple[float, float] | None = None
    scale: Literal["mrc", "reflex"] | None = None
    values: tuple[Id, ...] | None = None
    lateralised: bool = False
    levels: tuple[Literal[ROOT_LEVELS], ...] | None = None  # type: ignore[valid-type]
    codes: tuple[Code, ...] = ()

    @model_validator(mode="after")
    def _kind_fields(self) -> FindingDef:
        kind = self.kind
        if kind is FindingKind.NUMERIC and self.range is None:
            raise ValueError("a numeric finding must give range: [low, high]")
        if kind is FindingKind.ORDINAL and (self.range is None) == (self.scale is None):
            raise ValueError("an ordinal finding must give exactly one of scale or range")
        if kind is FindingKind.CATEGORICAL and not self.values:
            raise ValueError("a categorical finding must list its values")
        if kind is not FindingKind.CATEGORICAL and self.values is not None:
            raise ValueError(f"only categorical findings take values (this one is {kind})")
        if kind in (FindingKind.BOOLEAN, FindingKind.CATEGORICAL) and (
            self.range is not None or self.scale is not None
        ):
            raise ValueError(f"a {kind} finding takes no range or scale")
        if self.levels is not None and kind is not FindingKind.BOOLEAN:
            raise ValueError("only boolean findings can be levelled")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"range must be [low, high] with low < high (got {list(self.range)})")
        return self

    @property
    def bounds(self) -> tuple[float, float] | None:
        """The plausible (low, high) for numeric and ordinal findings."""
        if self.scale is not None:
            lo, hi = SCALES[self.scale]
            return float(lo), float(hi)
        if self.range is not None:
            return float(self.range[0]), float(self.range[1])
        return None

    @property
    def sides(self) -> tuple[str | None, ...]:
        """The sides a finding is recorded on; ``(None,)`` when not lateralised."""
        return SIDES if self.lateralised else (None,)

    @property
    def slot_levels(self) -> tuple[str | None, ...]:
        """The levels a finding is recorded at; ``(None,)`` when not levelled."""
        return tuple(self.levels) if self.levels else (None,)


class Condition(_Model):
    """A suspected cause of pain the rules can propose or rule out."""

    id: Id
    label: str = Field(min_length=1)
    region: Literal["lumbar", "cervical", "thoracic", "spine", "non_spinal"]
    category: Literal["serious", "specific", "nonspecific", "mimic", "prognostic"]
    description: str = Field(min_length=1)
    icd10cm: tuple[str, ...] = ()
    snomed: tuple[str, ...] = ()


class RedFlag(_Model):
    """A red flag: a finding pattern that needs action before anything else."""

    id: Id
    label: str = Field(min_length=1)
    urgency: Literal[Urgency.EMERGENCY, Urgency.URGENT]
    description: str = Field(min_length=1)
    conditions: tuple[Id, ...] = ()


class TestDef(_Model):
    """A diagnostic test the rules can suggest or advise against."""

    __test__ = False  # not a pytest class

    id: Id
    label: str = Field(min_length=1)
    kind: Literal[
        "imaging", "laboratory", "electrodiagnostic", "procedure", "bedside", "questionnaire"
    ]
    description: str = Field(min_length=1)


class TestGroup(_Model):
    """A named set of tests, e.g. all lumbar imaging, for advice against a whole group."""

    __test__ = False

    id: Id
    label: str = Field(min_length=1)
    tests: tuple[Id, ...] = Field(min_length=1)


class Source(_Model):
    """A bibliographic source that rules cite by key."""

    key: Id
    citation: str = Field(min_length=1)
    year: int | None = Field(default=None, ge=1900, le=2100)
    kind: Literal["guideline", "systematic_review", "study", "textbook", "secondary"]
    verified: bool = True
    url: str | None = None
    note: str | None = None
