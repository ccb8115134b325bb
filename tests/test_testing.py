"""painreason.testing: check_rulepack on good, broken and failing packs; the strategies draw
valid cases and rule sets for any vocabulary; the invariant helpers hold and catch breakage."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import painreason
from painreason.errors import KnowledgeError
from painreason.testing import check_rulepack
from painreason.testing import strategies as prs

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "tests" / "data" / "good_pack"
BROKEN = ROOT / "tests" / "data" / "broken_pack"
KB = painreason.load_knowledge()
ENGINE = painreason.Engine(KB, backend="python")
FAST = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def copy_good(tmp_path: Path) -> Path:
    pack = tmp_path / "pack"
    shutil.copytree(GOOD, pack)
    return pack


# --- check_rulepack --------------------------------------------------------------------


def test_good_pack_passes() -> None:
    report = check_rulepack(GOOD)
    assert report.ok
    assert [(g.id, g.passed) for g in report.golden] == [
        ("febrile_back_pain", True),
        ("afebrile_back_pain", True),
    ]
    assert report.problems() == []
    assert report.to_text().rstrip().endswith(f"{GOOD}: ok")


def test_broken_pack_raises_with_every_error() -> None:
    with pytest.raises(KnowledgeError) as info:
        check_rulepack(BROKEN)
    codes = info.value.codes
    assert {"missing-source", "impossible-threshold", "derivation-cycle", "dead-fact"} <= set(codes)
    assert "unread-finding" not in codes  # info: below the default fail_on
    report = check_rulepack(BROKEN, raise_on_failure=False)
    assert not report.ok
    assert report.golden == ()  # a pack that does not load runs no golden case
    assert len(check_rulepack(BROKEN, fail_on="info", raise_on_failure=False).problems()) == 22


def test_a_failing_golden_case_is_a_problem(tmp_path: Path) -> None:
    pack = copy_good(tmp_path)
    cases = pack / "knowledge" / "cases" / "cases.yaml"
    cases.write_text(cases.read_text().replace("tests: {mri: urgent}", "tests: {mri: routine}"))
    with pytest.raises(KnowledgeError) as info:
        check_rulepack(pack)
    (problem,) = info.value.problems
    assert problem.code == "golden-mismatch"
    assert problem.rule == "case 'febrile_back_pain'"
    assert "expected test mri at routine, got urgent" in problem.message
    report = check_rulepack(pack, raise_on_failure=False)
    assert [g.id for g in report.failed_golden] == ["febrile_back_pain"]
    assert "golden cases: 1 of 2 passed" in report.to_text()


def test_a_malformed_golden_file_is_reported(tmp_path: Path) -> None:
    pack = copy_good(tmp_path)
    cases = pack / "knowledge" / "cases" / "cases.yaml"
    cases.write_text(cases.read_text().replace("proposed: [infection]", "proposed: [infectio]", 1))
    report = check_rulepack(pack, raise_on_failure=False)
    assert [i.code for i in report.golden_problems] == ["unknown-reference"]
    assert report.golden_problems[0].line == 9
    assert not report.ok


def test_fail_on_warning(tmp_path: Path) -> None:
    pack = copy_good(tmp_path)
    know = pack / "knowledge" / "knowledge.yaml"
    know.write_text(
        know.read_text().replace(
            "tests:\n",
            "tests:\n  - {id: unused_test, label: Unused, kind: imaging, description: None.}\n",
        )
    )
    assert check_rulepack(pack).ok  # a warning passes by default
    with pytest.raises(KnowledgeError, match=r"\[unsuggested-test\]"):
        check_rulepack(pack, fail_on="warning")


def test_importing_painreason_and_testing_does_not_import_hypothesis() -> None:
    code = (
        "import sys, painreason, painreason.testing, painreason.cli, painreason.lint, "
        "painreason.vignettes; assert 'hypothesis' not in sys.modules, 'hypothesis imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- strategies ------------------------------------------------------------------------


@FAST
@given(case=prs.cases(KB, max_findings=10))
def test_cases_over_the_bundled_vocabulary_are_valid(case: dict[str, Any]) -> None:
    ENGINE.evaluate(case)  # raises CaseError when the case does not fit the vocabulary


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pack=prs.rule_packs(KB, max_rules=4), case=prs.cases(KB, max_findings=8))
def test_rule_packs_over_the_bundled_vocabulary_load(
    pack: dict[str, Any], case: dict[str, Any]
) -> None:
    kb = prs.load_pack(pack, KB)
    assert {r.id for r in kb.rules} == {r["id"] for r in pack["rules"]}
    painreason.Engine(kb, backend="python").evaluate(case)


def test_red_flag_findings() -> None:
    found = prs.red_flag_findings(KB)
    assert {"saddle_anaesthesia", "urinary_retention"} <= set(found)
    assert "nsaid_good_response" not in found


@FAST
@given(
    case=prs.cases(KB, max_findings=8),
    extra=prs.extra_findings(KB, findings=prs.red_flag_findings(KB), max_size=3),
)
def test_bundled_rules_keep_red_flags_and_ignore_finding_order(
    case: dict[str, Any], extra: dict[str, Any]
) -> None:
    prs.assert_red_flags_kept(ENGINE, case, extra)
    prs.assert_order_independent(ENGINE, {**case, "findings": {**case["findings"], **extra}})


@FAST
@given(
    pack=prs.rule_packs(),
    case=prs.cases(),
    extra=prs.extra_findings(),
    order=st.randoms(use_true_random=False),
)
def test_random_rule_sets_keep_red_flags(
    pack: dict[str, Any], case: dict[str, Any], extra: dict[str, Any], order: Any
) -> None:
    engine = painreason.Engine(prs.load_pack(pack), backend="python")
    prs.assert_red_flags_kept(engine, case, extra)
    prs.assert_order_independent(engine, case, seed=order.randint(0, 1000))


class _OrderSensitive:
    """An 'engine' whose answer depends on the first finding written: the helper must see it."""

    def evaluate(self, case: dict[str, Any]) -> painreason.Result:
        first = next(iter(case["findings"]), None)
        findings = {"low_back_pain": "present"}
        if first == "saddle_anaesthesia":
            findings["saddle_anaesthesia"] = "present"
        return ENGINE.evaluate({"findings": findings})


class _Forgetful:
    """An 'engine' that drops every red flag once more than one finding is recorded."""

    def evaluate(self, case: dict[str, Any]) -> painreason.Result:
        result = ENGINE.evaluate(case)
        if len(case["findings"]) > 2:
            return painreason.Result.model_validate({**result.model_dump(), "red_flags": []})
        return result


def test_invariant_helpers_catch_violations() -> None:
    case = {"findings": {"saddle_anaesthesia": "present", "low_back_pain": "present"}}
    with pytest.raises(AssertionError, match="finding order changed the result"):
        prs.assert_order_independent(_OrderSensitive(), case, shuffles=8)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="removed red flag cauda_equina_red_flag"):
        prs.assert_red_flags_kept(_Forgetful(), case, {"fever_reported": "present"})  # type: ignore[arg-type]
    # extra findings already in the case are not "more recorded"
    prs.assert_red_flags_kept(ENGINE, case, {"saddle_anaesthesia": "absent"})


def test_legacy_import_path_still_works() -> None:
    from tests.properties import strategies as legacy

    assert legacy.cases is prs.cases
    assert legacy.conditions is prs.when_trees
