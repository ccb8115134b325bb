"""Vignette evaluation and rule-set comparison: exact counts under the labelling rule, the
golden cases all correct, a removed rule shows as a drop naming the rule and the cases."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

import painreason
from painreason._cli_research import ProgressBar
from painreason.cli import main
from painreason.errors import KnowledgeError
from painreason.golden import check, load_golden
from painreason.vignettes import (
    compare_rule_sets,
    evaluate_vignettes,
    load_vignettes,
)

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "tests" / "data" / "good_pack"
JSONL = ROOT / "tests" / "data" / "vignettes" / "good_pack.jsonl"


@pytest.fixture(scope="module")
def good() -> painreason.Knowledge:
    return painreason.load_knowledge(GOOD / "rules", GOOD / "knowledge")


@pytest.fixture(scope="module")
def bundled() -> painreason.Knowledge:
    return painreason.load_knowledge()


# --- counts and the labelling rule -----------------------------------------------------


def test_counts_follow_the_open_labelling_rule(good: painreason.Knowledge) -> None:
    report = evaluate_vignettes(JSONL, good, backend="python")
    rows = {r["id"]: r for r in report.rows("conditions")}
    # tp_febrile TP, fn_subfebrile FN, fp_reported_fever FP, tn_afebrile TN; unlabelled: none
    assert {k: rows["infection"][k] for k in ("tp", "fp", "fn", "tn")} == {
        "tp": 1,
        "fp": 1,
        "fn": 1,
        "tn": 1,
    }
    assert rows["infection"]["sensitivity"] == rows["infection"]["specificity"] == 0.5
    assert rows["infection"]["ppv"] == rows["infection"]["npv"] == 0.5
    # mechanical is labelled once (positive): no negative label, so no specificity
    assert (rows["mechanical"]["tp"], rows["mechanical"]["specificity"]) == (1, None)
    assert list(rows["infection"])[:2] == ["id", "label"]
    assert report.n_cases == 5
    assert report.n_correct == 3
    assert [c.id for c in report.cases if not c.correct] == ["fn_subfebrile", "fp_reported_fever"]


def test_closed_labels_count_every_condition_not_expected_as_negative(
    good: painreason.Knowledge,
) -> None:
    report = evaluate_vignettes(JSONL, good, backend="python", labels="closed")
    rows = {r.id: r for r in report.conditions}
    assert (rows["infection"].tp, rows["infection"].fp, rows["infection"].tn) == (1, 1, 2)
    assert (rows["mechanical"].tp, rows["mechanical"].tn) == (1, 4)
    with pytest.raises(ValueError, match="labels must be 'open' or 'closed'"):
        evaluate_vignettes(JSONL, good, labels="half")  # type: ignore[arg-type]


def test_red_flags_tests_and_rules(good: painreason.Knowledge) -> None:
    report = evaluate_vignettes(JSONL, good, backend="python")
    (flag,) = report.red_flags
    assert (flag.id, flag.tp, flag.fn, flag.fp, flag.tn) == ("infection_flag", 2, 1, 0, 2)
    assert report.red_flag_recall == round(2 / 3, 4)
    (mri,) = report.tests
    assert (mri.expected, mri.suggested, mri.urgency_agrees) == (3, 2, 1)
    assert (mri.unwanted, mri.unwanted_suggested) == (1, 0)
    assert report.test_recall == round(2 / 3, 4)
    assert report.urgency_agreement == 0.5
    assert report.rules_never_fired == ()
    one = evaluate_vignettes(
        [v for v in load_vignettes(JSONL, good) if v.golden.id == "unlabelled"], good
    )
    assert one.rules_never_fired == ("fever_with_back_pain", "back_pain_without_fever")


def test_mismatches_say_what_was_expected_what_came_and_why(good: painreason.Knowledge) -> None:
    report = evaluate_vignettes(JSONL, good, backend="python")
    kinds = [(m.case, m.kind, m.target) for m in report.mismatches]
    assert kinds == [
        ("fn_subfebrile", "missed_red_flag", "infection_flag"),  # missed red flags first
        ("fn_subfebrile", "missed_condition", "infection"),
        ("fn_subfebrile", "missed_test", "mri"),
        ("fp_reported_fever", "unexpected_condition", "infection"),
        ("fp_reported_fever", "test_urgency", "mri"),
    ]
    missed = report.missed_red_flags[0]
    assert missed.where.endswith("good_pack.jsonl:2")
    assert (missed.expected, missed.got) == ("raised", "not raised")
    why = " ".join(missed.why)
    assert "possible fever_with_back_pain" in why
    assert "failed: temperature_c ≥ 38" in why
    assert "not recorded: fever present" in why
    cond = report.mismatches[1]
    assert "recording fever: present would propose it" in " ".join(cond.why)
    urgency = report.mismatches[4]
    assert (urgency.expected, urgency.got) == ("routine", "urgent")
    assert urgency.why == ("fired fever_with_back_pain: back_pain present; fever present",)
    text = report.to_text()
    assert text.index("MISSED RED FLAGS") < text.index("CONDITIONS") < text.index("MISMATCHES")


def test_tables_as_rows_and_frames(good: painreason.Knowledge) -> None:
    report = evaluate_vignettes(JSONL, good, backend="python")
    frame = report.to_frame("conditions")
    assert list(frame["id"]) == ["infection", "mechanical"]
    assert frame.loc[0, "sensitivity"] == 0.5
    assert len(report.to_frame("mismatches")) == 5
    assert report.rows("rules") == [
        {"rule": "fever_with_back_pain", "cases_fired": 2},
        {"rule": "back_pain_without_fever", "cases_fired": 1},
    ]
    with pytest.raises(ValueError, match="table must be"):
        report.rows("bogus")
    data = json.loads(report.to_json())
    assert data["n_correct"] == 3
    assert data["conditions"][0]["sensitivity"] == 0.5


def test_progress_is_reported_per_case(good: painreason.Knowledge) -> None:
    calls: list[tuple[int, int]] = []
    evaluate_vignettes(JSONL, good, progress=lambda d, n: calls.append((d, n)))
    assert calls == [(i, 5) for i in range(1, 6)]
    out = io.StringIO()
    bar = ProgressBar(out)
    for i in range(1, 4):
        bar(i, 3)
    assert out.getvalue().startswith("\revaluating  33% [")
    assert out.getvalue().endswith("] 3/3\n")


# --- loading ---------------------------------------------------------------------------


def test_a_folder_of_golden_files_loads_like_jsonl(good: painreason.Knowledge) -> None:
    folder = load_vignettes(GOOD / "knowledge" / "cases", good)
    assert [v.golden.id for v in folder] == ["febrile_back_pain", "afebrile_back_pain"]
    assert folder[0].where.endswith("cases.yaml:2")
    report = evaluate_vignettes(GOOD / "knowledge" / "cases", good)
    assert report.n_correct == report.n_cases == 2


@pytest.mark.parametrize(
    ("line", "code", "where"),
    [
        ("{not json", "yaml-syntax", ":2:2"),
        (
            '{"id": "x", "description": "d", "kind": "edge", "case": {"findings": '
            '{"feverr": "present"}}, "expect": {"red_flags": []}}',
            "unknown-finding",
            ":2:1",
        ),
        (
            '{"id": "x", "description": "d", "kind": "edge", "case": {}, '
            '"expect": {"red_flags": ["infection_flagg"]}}',
            "unknown-reference",
            ":2:1",
        ),
        (
            '{"id": "x", "description": "d", "kind": "edge", "case": {}, "expect": '
            '{"red_flags": [], "proposed": ["infection"], "not_proposed": ["infection"]}}',
            "bad-golden",
            ":2:1",
        ),
        ('{"id": "x", "description": "d", "kind": "edge", "case": {}}', "bad-golden", ":2:1"),
        (
            '{"id": "tp_febrile", "description": "d", "kind": "edge", "case": {}, '
            '"expect": {"red_flags": []}}',
            "duplicate-id",
            ":2:1",
        ),
    ],
)
def test_bad_vignettes_are_located(
    good: painreason.Knowledge, tmp_path: Path, line: str, code: str, where: str
) -> None:
    first = JSONL.read_text().splitlines()[0]
    path = tmp_path / "v.jsonl"
    path.write_text(first + "\n" + line + "\n")
    with pytest.raises(KnowledgeError) as info:
        load_vignettes(path, good)
    assert code in info.value.codes
    assert f"v.jsonl{where}" in str(info.value)


def test_missing_vignettes_are_a_domain_error(good: painreason.Knowledge, tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="does not exist"):
        load_vignettes(tmp_path / "nope", good)
    good = ["--rules", str(GOOD / "rules"), "--knowledge", str(GOOD / "knowledge")]
    assert main(["evaluate", str(tmp_path / "nope"), *good]) == 1


# --- the golden cases, and a rule removed ----------------------------------------------


def test_golden_cases_are_all_correct(bundled: painreason.Knowledge) -> None:
    report = evaluate_vignettes(ROOT / "knowledge" / "cases", bundled, backend="python")
    assert report.n_cases == len(load_golden(bundled)) > 100
    assert report.n_correct == report.n_cases
    assert report.red_flag_recall == 1.0
    assert report.mismatches == ()
    assert all(c.sensitivity in (1.0, None) for c in report.conditions)
    assert all(c.specificity in (1.0, None) for c in report.conditions)
    assert report.test_recall == report.urgency_agreement == 1.0


def _sole_red_flag_rule(kb: painreason.Knowledge) -> tuple[str, str, str]:
    """A golden case, a red flag it expects, and the only rule that raises it there."""
    engine = painreason.Engine(kb, backend="python")
    for golden in load_golden(kb):
        for flag in engine.evaluate(golden.case).red_flags:
            if len(flag.raised_by) == 1:
                return golden.id, flag.id, flag.raised_by[0]
    raise AssertionError("no golden red flag is raised by a single rule")


@pytest.fixture(scope="module")
def reduced(
    bundled: painreason.Knowledge, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str, str, str]:
    case, flag, rule = _sole_red_flag_rule(bundled)
    root = tmp_path_factory.mktemp("reduced") / "rules"
    shutil.copytree(ROOT / "rules", root)
    file = root / Path(bundled.rule_index[rule].file).name
    yaml = YAML()
    data = yaml.load(file.read_text())
    data["rules"] = [r for r in data["rules"] if r["id"] != rule]
    with file.open("w") as fh:
        yaml.dump(data, fh)
    return root, case, flag, rule


@pytest.fixture(scope="module")
def reduced_kb(reduced: tuple[Path, str, str, str]) -> painreason.Knowledge:
    return painreason.load_knowledge(reduced[0])


def test_a_removed_rule_shows_as_a_drop(
    reduced: tuple[Path, str, str, str], reduced_kb: painreason.Knowledge
) -> None:
    _root, case, flag, rule = reduced
    kb = reduced_kb
    assert rule not in kb.rule_index
    report = evaluate_vignettes(ROOT / "knowledge" / "cases", kb, backend="python")
    assert report.n_correct < report.n_cases
    assert (case, flag) in {(m.case, m.target) for m in report.missed_red_flags}
    assert report.mismatches[0].kind == "missed_red_flag"
    assert report.red_flag_recall is not None
    assert report.red_flag_recall < 1
    row = next(f for f in report.red_flags if f.id == flag)
    assert row.fn >= 1
    assert row.sensitivity is not None
    assert row.sensitivity < 1
    # the verdict agrees with golden.check on every case
    engine = painreason.Engine(kb, backend="python")
    verdicts = {c.id: c.correct for c in report.cases}
    for golden in load_golden(kb):
        assert verdicts[golden.id] == (not check(golden, engine.evaluate(golden.case)))


def test_compare_names_the_rule_the_cases_and_the_metric_changes(
    bundled: painreason.Knowledge,
    reduced: tuple[Path, str, str, str],
    reduced_kb: painreason.Knowledge,
) -> None:
    _root, case, flag, rule = reduced
    kb = reduced_kb
    comparison = compare_rule_sets(bundled, kb, ROOT / "knowledge" / "cases", backend="python")
    assert comparison.rules_only_in_a == (rule,)
    assert comparison.rules_only_in_b == ()
    diff = next(d for d in comparison.cases if d.case == case)
    assert (diff.correct_a, diff.correct_b) == (True, False)
    assert rule in diff.fired_only_in_a
    removed = [c for c in diff.changes if c.kind == "red_flag" and c.id == flag]
    assert removed
    assert removed[0].change == "removed"
    assert comparison.cases[0].changes[0].kind == "red_flag"  # red-flag changes first
    drop = next(
        m
        for m in comparison.metric_changes
        if (m.table, m.id, m.metric) == ("red_flags", flag, "sensitivity")
    )
    assert drop.a == 1.0
    assert drop.b is not None
    assert drop.b < 1.0
    text = comparison.to_text()
    assert f"rules only in A: {rule}" in text
    assert case in text


def test_compare_with_itself_finds_nothing(bundled: painreason.Knowledge) -> None:
    same = compare_rule_sets(bundled, bundled, load_golden(bundled)[:20], backend="python")
    assert (same.cases, same.metric_changes, same.rules_only_in_a) == ((), (), ())


def test_cli_evaluate_and_compare(
    reduced: tuple[Path, str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    root, case, _flag, rule = reduced
    cases = str(ROOT / "knowledge" / "cases")
    good = ["--rules", str(GOOD / "rules"), "--knowledge", str(GOOD / "knowledge")]
    assert main(["evaluate", str(JSONL), *good]) == 0
    assert "3 of 5 (60.0%) correct" in capsys.readouterr().out
    assert main(["evaluate", str(JSONL), *good, "--fail-on-mismatch", "--progress"]) == 1
    assert "evaluating 100% [" in capsys.readouterr().err
    assert main(["evaluate", str(JSONL), *good, "--format", "json", "--labels", "closed"]) == 0
    assert json.loads(capsys.readouterr().out)["labels"] == "closed"
    pack = ["compare", str(GOOD), str(GOOD), str(JSONL), "--format", "json"]
    assert main(pack) == 0
    assert json.loads(capsys.readouterr().out)["cases"] == []
    args = ["compare", str(ROOT / "rules"), str(root), cases, "--backend", "python"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"rules only in A: {rule}" in out
    assert case in out
