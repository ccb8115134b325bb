"""Cases: a patient and the findings recorded, checked against the vocabulary.

A :class:`Case` is read from a dict, a JSON or a YAML file. Its structure is checked when it
is built; its findings are checked against a vocabulary by :func:`observe`, which turns them
into *slots*: one recorded value per (side, level) of each finding. What is not written is not
recorded, and a finding not recorded is unknown, never absent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from ._yaml import Document, DocumentError, parse
from .errors import CaseError, Problem, did_you_mean
from .vocabulary import FindingDef, FindingKind

if TYPE_CHECKING:
    from .loader import Knowledge

__all__ = ["Case", "Observations", "Patient", "Slot", "SlotValue", "observe"]

Side = Literal["left", "right"]
SlotValue = bool | float | str
Slot = tuple[str | None, str | None]  # (side, level)


def _got(value: Any, limit: int = 200) -> str:
    """The repr of a value the caller passed, shortened; never raises.

    repr() raises on ints of over 4,300 digits and on very deep nesting.

    >>> _got("x" * 500)[-5:]
    'xx...'
    >>> _got(10**5000)
    '<int of 16610 bits>'
    """
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        bits = f" of {value.bit_length()} bits" if isinstance(value, int) else ""
        text = f"<{type(value).__name__}{bits}>"
    return text if len(text) <= limit else text[:limit] + "..."


def _word(value: Any) -> str:
    """``value`` when it is text (for did-you-mean), else ''."""
    return value if isinstance(value, str) else ""


def _not_recorded(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and raw == "not_recorded")


def _is_present(raw: Any) -> bool:
    return raw is True or (isinstance(raw, str) and raw == "present")


def _is_absent(raw: Any) -> bool:
    return raw is False or (isinstance(raw, str) and raw == "absent")


class Patient(BaseModel):
    """Patient context: age in years and sex."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    age: float | None = Field(default=None, ge=0, le=120, allow_inf_nan=False, strict=True)
    sex: Literal["female", "male"] | None = None


class Case(BaseModel):
    """One patient encounter: patient context and recorded findings.

    Findings map a vocabulary id to what was recorded (see ``docs/rule-language.md``).

    Examples
    --------
    >>> case = Case(patient={"age": 45, "sex": "male"},
    ...             findings={"low_back_pain": "present", "saddle_anaesthesia": "absent"})
    >>> case.patient.age
    45.0
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str | None = Field(default=None, max_length=200)
    patient: Patient = Patient()
    findings: dict[str, Any] = Field(default_factory=dict)
    _doc: Document | None = PrivateAttr(default=None)

    @field_validator("findings")
    @classmethod
    def _finite(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            kind = type(item)
            if kind is str or item is None or kind is bool or kind is int:
                continue  # the usual values, without a call per value
            if kind is float and math.isfinite(item):
                continue
            _check_json(item, key, 0)
        return value

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "<case>") -> Case:
        """Build a case from plain data, turning validation errors into :class:`CaseError`."""
        return _build(data, None, source)

    @classmethod
    def from_file(cls, path: str | Path) -> Case:
        """Read a case from a YAML or JSON file.

        Raises
        ------
        CaseError
            With the file, line and column of every problem.
        """
        path = Path(path)
        shown = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CaseError(
                [Problem("unreadable-file", f"cannot read case file ({exc})", file=shown)]
            ) from None
        return cls.from_text(text, source=shown)

    @classmethod
    def from_text(cls, text: str, *, source: str = "<case>") -> Case:
        """Parse YAML or JSON text into a case."""
        try:
            doc = parse(text, source)
        except DocumentError as exc:
            raise CaseError([exc.problem]) from None
        return _build(doc.data, doc, source)

    def problem(
        self, code: str, message: str, loc: tuple[str | int, ...], suggestion: str | None = None
    ) -> Problem:
        """A problem located in this case's source file when it came from one."""
        name = f"case {self.id!r}" if self.id else None
        if self._doc is not None:
            return self._doc.problem(code, message, loc, rule=name, suggestion=suggestion)
        return Problem(code, message, file="<case>", rule=name, suggestion=suggestion)


def _check_json(value: Any, key: str, depth: int) -> None:
    if depth > 8:
        raise ValueError(f"finding {key!r}: value nests too deeply")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"finding {key!r}: must be a finite number (got {value})")
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ValueError(f"finding {key!r}: keys must be text")
        for item in value.values():
            _check_json(item, key, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, key, depth + 1)
    elif not isinstance(value, str | int | float | bool | type(None)):
        raise ValueError(f"finding {key!r}: unsupported value type {type(value).__name__}")


_CASE_KEYS = frozenset({"id", "patient", "findings"})
_PATIENT_KEYS = frozenset({"age", "sex"})


def _plain(data: dict[str, Any]) -> Case | None:
    """The Case that validating ``data`` gives, when every part of it is of a plain kind that
    validation accepts as is; None otherwise, and the full validator then runs (and reports
    the errors: this path never raises).

    Same values, same ``model_fields_set`` (of the patient too), same shared default patient
    as :meth:`Case.model_validate`, at about a fifth of its cost; the tests compare both.
    """
    if not data.keys() <= _CASE_KEYS:
        return None
    case_id = data.get("id")
    if case_id is not None and (type(case_id) is not str or len(case_id) > 200):
        return None
    findings = data.get("findings", _NO_FINDINGS)
    if type(findings) is not dict:
        return None
    for key, item in findings.items():
        if type(key) is not str:
            return None
        kind = type(item)
        if kind is str or item is None or kind is bool or kind is int:
            continue
        if kind is float and math.isfinite(item):
            continue
        try:
            _check_json(item, key, 0)
        except (ValueError, RecursionError):
            return None
    if "patient" in data:
        given = data["patient"]
        if type(given) is not dict or not given.keys() <= _PATIENT_KEYS:
            return None
        age = given.get("age")
        if age is not None:
            kind = type(age)
            if kind is not float and kind is not int:
                return None
            if not 0 <= age <= 120:  # also refuses nan
                return None
            age = float(age)
        sex = given.get("sex")
        if sex is not None and (type(sex) is not str or sex not in ("female", "male")):
            return None
        patient = _new(Patient, {"age": age, "sex": sex}, set(given), None)
    else:
        patient = _DEFAULT_PATIENT
    values = {"id": case_id, "patient": patient, "findings": dict(findings)}
    return _new(Case, values, set(data), {"_doc": None})


_M = TypeVar("_M", bound=BaseModel)


def _new(model: type[_M], values: dict[str, Any], given: set[str], private: Any) -> _M:
    """A model instance from values already valid, as validation stores them (what
    ``model_construct`` does, without its per-field work)."""
    made = model.__new__(model)
    setattr_ = object.__setattr__
    setattr_(made, "__dict__", values)
    setattr_(made, "__pydantic_fields_set__", given)
    setattr_(made, "__pydantic_extra__", None)
    setattr_(made, "__pydantic_private__", private)
    return made


_NO_FINDINGS: dict[str, Any] = {}


def _build(data: Any, doc: Document | None, source: str) -> Case:
    if isinstance(data, Case):
        return data
    if type(data) is dict:
        case = _plain(data)
        if case is not None:
            case._doc = doc
            return case
    if not isinstance(data, dict):
        problem = Problem(
            "bad-case",
            f"a case must be a mapping with patient and findings (got {type(data).__name__})",
            file=source,
        )
        raise CaseError([problem])
    try:
        case = Case.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            where = ".".join(str(p) for p in loc) or "case"
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            got = err.get("input")
            text = f"{where}: {msg}"
            if err["type"] not in ("missing", "extra_forbidden", "value_error") and not isinstance(
                got, dict | list
            ):
                text += f" (got {_got(got)})"
            suggestion = None
            if err["type"] == "extra_forbidden" and loc:
                suggestion = did_you_mean(str(loc[-1]), ("id", "patient", "findings", "age", "sex"))
            if doc is not None:
                problems.append(doc.problem("bad-case", text, loc, suggestion=suggestion))
            else:
                problems.append(Problem("bad-case", text, file=source, suggestion=suggestion))
        raise CaseError(problems) from None
    case._doc = doc
    return case


_DEFAULT_PATIENT: Patient = Case.model_fields["patient"].default


@dataclass(frozen=True, slots=True)
class Observations:
    """A case's findings as recorded slots, checked against a vocabulary.

    ``slots[finding][(side, level)]`` is the recorded value; a missing key is not recorded.
    """

    slots: Mapping[str, Mapping[Slot, SlotValue]]

    @property
    def recorded(self) -> tuple[str, ...]:
        """Finding ids with at least one recorded slot, sorted."""
        return tuple(sorted(k for k, v in self.slots.items() if v))


def observe(case: Case, knowledge: Knowledge) -> Observations:
    """Check a case against the vocabulary and return its recorded slots.

    Raises
    ------
    CaseError
        Listing every unknown finding, impossible value, wrong kind and contradiction,
        each with what was expected and a did-you-mean where one fits.
    """
    vocab = knowledge.findings
    problems: list[Problem] = []
    slots: dict[str, dict[Slot, SlotValue]] = {}
    for fid, raw in case.findings.items():
        finding = vocab.get(fid)
        if finding is None:
            problems.append(
                case.problem(
                    "unknown-finding",
                    f"unknown finding {_got(fid)}",
                    ("findings", fid),
                    did_you_mean(fid, vocab),
                )
            )
            continue
        reader = _Reader(case, finding, problems)
        slots[fid] = reader.record(raw)
    patient = case.patient
    for fid, value in (("age", patient.age), ("sex", patient.sex)):
        if value is None:
            continue
        if fid not in vocab:
            problems.append(
                case.problem(
                    "unknown-finding",
                    f"the vocabulary has no {fid!r} finding to hold the patient's " + fid,
                    ("patient", fid),
                )
            )
            continue
        given = slots.get(fid, {}).get((None, None))
        if given is not None and given != value:
            problems.append(
                case.problem(
                    "contradiction",
                    f"findings.{fid} ({_got(given)}) contradicts patient.{fid} "
                    f"({_got(value)}); give it once",
                    ("findings", fid),
                )
            )
            continue
        reader = _Reader(case, vocab[fid], problems, loc=("patient", fid))
        slots[fid] = reader.record(value)
    if problems:
        raise CaseError(problems)
    return Observations({k: v for k, v in sorted(slots.items()) if v})


class _Reader:
    """Reads one finding's recorded value into slots, collecting problems."""

    def __init__(
        self,
        case: Case,
        finding: FindingDef,
        problems: list[Problem],
        loc: tuple[str | int, ...] | None = None,
    ) -> None:
        self.case = case
        self.f = finding
        self.problems = problems
        self.loc = loc or ("findings", finding.id)

    def bad(self, code: str, msg: str, suggestion: str | None = None) -> dict[Slot, SlotValue]:
        self.problems.append(
            self.case.problem(code, f"finding {self.f.id!r}: {msg}", self.loc, suggestion)
        )
        return {}

    def expected(self, scalar_only: bool = False) -> str:
        f = self.f
        lat = f.lateralised and not scalar_only
        if f.kind is FindingKind.BOOLEAN and scalar_only:
            return "present, absent, true, false or not_recorded"
        if f.kind is FindingKind.BOOLEAN:
            if lat and f.levels:
                return (
                    "absent, or {present: true, side: left|right|bilateral, levels: "
                    f"[{', '.join(f.levels)}]}}"
                )
            if lat:
                return (
                    "absent, {present: true, side: left|right|bilateral} or {left: .., right: ..}"
                )
            if f.levels:
                return f"absent or {{present: true, levels: [{', '.join(f.levels)}]}}"
            return "present, absent, true, false or not_recorded"
        if f.kind is FindingKind.CATEGORICAL:
            scalar = "one of " + ", ".join(f.values or ())
        else:
            lo, hi = f.bounds or (0, 0)
            whole = "a whole number" if f.kind is FindingKind.ORDINAL else "a number"
            scalar = f"{whole} from {lo:g} to {hi:g}" + (f" {f.unit}" if f.unit else "")
        if lat:
            return (
                f"{{left: v, right: v}} or {{value: v, side: left|right|bilateral}} with v {scalar}"
            )
        return scalar

    def record(self, raw: Any) -> dict[Slot, SlotValue]:
        f = self.f
        if _not_recorded(raw):
            return {}
        if isinstance(raw, dict) and f.lateralised and set(raw) <= {"left", "right"} and raw:
            out: dict[Slot, SlotValue] = {}
            for name in ("left", "right"):
                if name in raw:
                    for (_, level), value in self.one(raw[name], name).items():
                        out[(name, level)] = value
            return out
        if isinstance(raw, dict):
            keys = set(raw)
            value_key = "present" if f.kind is FindingKind.BOOLEAN else "value"
            allowed = {value_key, "side", "levels"} if f.levels else {value_key, "side"}
            if not f.lateralised:
                allowed.discard("side")
            extra = keys - allowed
            if extra or value_key not in keys:
                key = sorted(map(str, extra))[0] if extra else value_key
                return self.bad(
                    "bad-value",
                    f"must be {self.expected()} (got {_got(raw)})",
                    did_you_mean(key, sorted(allowed)) if extra else None,
                )
            side = raw.get("side")
            if side is None and f.lateralised and not _is_absent(raw[value_key]):
                return self.bad(
                    "missing-side",
                    f"is lateralised: give side: left, right or bilateral (got {_got(raw)})",
                )
            if side is not None and side not in ("left", "right", "bilateral"):
                return self.bad(
                    "bad-side",
                    f"side must be left, right or bilateral (got {_got(side)})",
                    did_you_mean(_word(side), ("left", "right", "bilateral")),
                )
            sides = (
                ("left", "right")
                if side in (None, "bilateral") and f.lateralised
                else ((side,) if f.lateralised else (None,))
            )
            out = {}
            for s in sides:
                out.update(self.one(raw, s))
            return out
        if f.lateralised and not _is_absent(raw):
            return self.bad(
                "missing-side", f"is lateralised: must be {self.expected()} (got {_got(raw)})"
            )
        sides_all: tuple[str | None, ...] = f.sides
        out = {}
        for s in sides_all:
            out.update(self.one(raw, s))
        return out

    def one(self, raw: Any, side: str | None) -> dict[Slot, SlotValue]:
        """Slots of one side: ``raw`` is a scalar or a {present/value, levels} mapping."""
        f = self.f
        levels: tuple[str | None, ...] = f.slot_levels
        if isinstance(raw, dict):
            value_key = "present" if f.kind is FindingKind.BOOLEAN else "value"
            if value_key not in raw:
                return self.bad("bad-value", f"must be {self.expected()} (got {_got(raw)})")
            given = raw.get("levels")
            if given is not None:
                if not f.levels:
                    return self.bad("bad-level", "is not levelled: drop levels")
                if not isinstance(given, list) or not given:
                    return self.bad(
                        "bad-level",
                        f"levels must be a non-empty list of {', '.join(f.levels)} "
                        f"(got {_got(given)})",
                    )
                for lv in given:
                    if lv not in f.levels:
                        return self.bad(
                            "bad-level",
                            f"level {_got(lv)} is not one of {', '.join(f.levels)}",
                            did_you_mean(_word(lv), f.levels),
                        )
                levels = tuple(given)
            elif f.levels and not _is_absent(raw[value_key]):
                return self.bad(
                    "missing-level",
                    f"is levelled: give levels, e.g. levels: [{f.levels[0]}] (got {_got(raw)})",
                )
            raw = raw[value_key]
        elif f.levels and not _is_absent(raw) and not _not_recorded(raw):
            return self.bad(
                "missing-level", f"is levelled: must be {self.expected()} (got {_got(raw)})"
            )
        value = self.scalar(raw)
        if value is None:
            return {}
        return {(side, level): value for level in levels}

    def scalar(self, raw: Any) -> SlotValue | None:
        f = self.f
        if _not_recorded(raw):
            return None
        if f.kind is FindingKind.BOOLEAN:
            if _is_present(raw):
                return True
            if _is_absent(raw):
                return False
            self.bad(
                "wrong-kind",
                f"must be {self.expected(scalar_only=True)} (got {_got(raw)})",
                did_you_mean(_word(raw), ("present", "absent", "not_recorded")),
            )
            return None
        if f.kind is FindingKind.CATEGORICAL:
            if isinstance(raw, str) and raw in (f.values or ()):
                return raw
            self.bad(
                "bad-value",
                f"must be {self.expected(scalar_only=True)} (got {_got(raw)})",
                did_you_mean(_word(raw), f.values or ()),
            )
            return None
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            self.bad("wrong-kind", f"must be {self.expected(scalar_only=True)} (got {_got(raw)})")
            return None
        if isinstance(raw, float) and not math.isfinite(raw):
            self.bad("bad-value", f"must be {self.expected(scalar_only=True)} (got {_got(raw)})")
            return None
        lo, hi = f.bounds or (-math.inf, math.inf)
        try:
            number = float(raw)
        except OverflowError:  # an int past ±1.8e308
            number = math.nan
        if not lo <= number <= hi or (f.kind is FindingKind.ORDINAL and raw != int(raw)):
            self.bad("out-of-range", f"must be {self.expected(scalar_only=True)} (got {_got(raw)})")
            return None
        return number
