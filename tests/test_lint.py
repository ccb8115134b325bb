"""painreason lint: every code fires at its place on the broken pack, codes and docs agree,
the bundled rules have no error, and the analysis is sound on random rule sets."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import painreason
from painreason._logic import Reasoner, dnf, iter_preds
from painreason.cli import main
from painreason.lint import CODES, lint
from painreason.testing import strategies as prs

ROOT = Path(__file__).resolve().parents[1]
BROKEN = "tests/data/broken_pack"
RULES = "tests/data/broken_pack/rules/broken.yaml"
VOCAB = "tests/data/broken_pack/knowledge/vocabulary.yaml"

EXPECTED = {
    ("derivation-cycle", f"{RULES}:18:5"),
    ("dead-fact", f"{RULES}:20:21"),
    ("dead-fact", f"{RULES}:25:21"),
    ("dead-fact", f"{RULES}:33:20"),
    ("present-and-absent", f"{RULES}:41:19"),
    ("contradictory-condition", f"{RULES}:49:11"),
    ("impossible-threshold", f"{RULES}:54:5"),
    ("threshold-out-of-range", f"{RULES}:62:11"),
    ("duplicate-rule", f"{RULES}:76:5"),
    ("subsumed-rule", f"{RULES}:87:5"),
    ("conflicting-rules", f"{RULES}:105:31"),
    ("evidence-not-read", f"{RULES}:113:17"),
    ("unverified-sources-only", f"{RULES}:118:5"),
    ("missing-source", f"{RULES}:119:5"),  # a loading error, passed through
    ("not-analysed", f"{RULES}:125:5"),
    ("unread-fact", f"{RULES}:4:5"),
    ("unread-finding", f"{VOCAB}:9:5"),
    ("unproposed-condition", f"{VOCAB}:13:5"),
    ("unproposed-condition", f"{VOCAB}:14:5"),
    ("unraised-red-flag", f"{VOCAB}:17:5"),
    ("unsuggested-test", f"{VOCAB}:20:5"),
    ("uncited-source", f"{VOCAB}:24:5"),
}


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # locations are shown as the user named the folders


@pytest.fixture
def broken() -> painreason.lint.LintReport:
    return lint("tests/data/broken_pack/rules", "tests/data/broken_pack/knowledge")


def test_broken_pack_triggers_every_code_at_its_place(broken: painreason.lint.LintReport) -> None:
    got = {(i.code, i.location) for i in broken.issues}
    assert got == EXPECTED
    assert set(CODES) <= {code for code, _ in EXPECTED}
    for issue in broken.issues:
        assert issue.severity == CODES.get(issue.code, ("error",))[0]


def test_issue_messages_name_the_problem(broken: painreason.lint.LintReport) -> None:
    by_code = {i.code: i for i in broken.issues}
    assert str(by_code["impossible-threshold"]) == (
        f"{RULES}:54:5: error: rule 'impossible_tachycardia': can never fire: heart_rate > 300 "
        "never holds on any accepted value ([20, 250] /min, the plausible range of "
        "'heart_rate') [impossible-threshold]"
    )
    assert "loop_a -> loop_b -> loop_a" in by_code["derivation-cycle"].message
    assert "'fever' both present and absent" in by_code["present-and-absent"].message
    assert "heart_rate > 120; heart_rate < 100" in by_code["contradictory-condition"].message
    assert by_code["duplicate-rule"].owner == "rule 'serious_b'"
    assert "'serious_a'" in by_code["duplicate-rule"].message
    assert "'serious_a'" in by_code["subsumed-rule"].message
    assert by_code["subsumed-rule"].related == (f"{RULES}:65: rule 'serious_a'",)
    assert "always contested" in by_code["conflicting-rules"].message or (
        "never ruled out" in by_code["conflicting-rules"].message
    )
    assert "only rules that can never fire" in str(
        next(i for i in broken.issues if i.location == f"{VOCAB}:14:5")
    )
    assert not broken.ok
    assert broken.count("error") == 8
    # the loader's fact-cycle is reported once, as derivation-cycle
    assert "fact-cycle" not in broken.codes()


def test_bundled_rules_have_no_lint_error() -> None:
    report = lint()
    assert report.ok, report.to_text()
    assert "derivation-cycle" not in report.codes()


def test_good_pack_is_clean() -> None:
    report = lint("tests/data/good_pack/rules", "tests/data/good_pack/knowledge")
    assert report.issues == ()
    assert not report.fails("info")


# --- docs ------------------------------------------------------------------------------


def documented() -> dict[str, tuple[str, str]]:
    text = (ROOT / "docs" / "lint.md").read_text()
    sections = re.split(r"^### ", text, flags=re.M)[1:]
    out = {}
    for section in sections:
        head = re.match(r"`([a-z-]+)` \((error|warning|info)\)", section)
        assert head, section[:80]
        out[head.group(1)] = (head.group(2), section)
    return out


def test_every_lint_code_is_documented_with_an_example_and_the_fix() -> None:
    docs = documented()
    assert set(docs) == set(CODES)
    for code, (severity, section) in docs.items():
        assert severity == CODES[code][0], code
        assert "```yaml" in section, f"{code}: no example"
        assert "**Fix:**" in section, f"{code}: no fix"


# --- CLI -------------------------------------------------------------------------------


def test_cli_lint_exit_codes_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", BROKEN]) == 1
    out = capsys.readouterr().out
    assert f"{RULES}:54:5: error: rule 'impossible_tachycardia'" in out
    assert out.rstrip().endswith("8 errors, 9 warnings, 5 notes")
    assert main(["lint", BROKEN, "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data[0]["counts"] == {"error": 8, "warning": 9, "info": 5}
    assert {(i["code"], f"{i['file']}:{i['line']}:{i['col']}") for i in data[0]["issues"]} == (
        EXPECTED
    )
    assert main(["lint", "tests/data/good_pack", "--fail-on", "info"]) == 0
    assert main(["lint"]) == 0
    capsys.readouterr()


def test_cli_lint_on_a_missing_folder_is_a_domain_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["lint", str(tmp_path / "nope")]) == 1
    assert "[missing-folder]" in capsys.readouterr().err


# --- the reasoning ---------------------------------------------------------------------


def _rules(tmp_path: Path, *whens: Any) -> painreason.lint.LintReport:
    rules = [
        {
            "id": f"r{i}",
            "title": "t",
            "when": when,
            "then": [{"propose": {"condition": "k0", "strength": "low"}}],
            "sources": ["s0"],
        }
        for i, when in enumerate(whens)
    ]
    root = prs.write_pack({"rules": rules}, tmp_path)
    return lint(root / "rules", root / "knowledge")


@pytest.mark.parametrize(
    ("when", "code"),
    [
        # a lateralised finding may be > 5 on one side and < 3 on the other
        ({"all": [{"finding": "o0", "gt": 4}, {"finding": "o0", "lt": 2}]}, None),
        (
            {
                "all": [
                    {"finding": "o0", "gt": 4, "side": "left"},
                    {"finding": "o0", "lt": 2, "side": "left"},
                ]
            },
            "contradictory-condition",
        ),
        # bilateral present needs the left side present; absent-on-left contradicts it
        (
            {
                "all": [
                    {"present": {"finding": "b2", "side": "bilateral"}},
                    {"absent": {"finding": "b2", "side": "left"}},
                ]
            },
            "present-and-absent",
        ),
        # known false when false on one side: absent on the left is enough
        ({"all": [{"not": {"present": {"finding": "b2", "side": "bilateral"}}}]}, None),
        # absent at every level contradicts present at L5
        (
            {
                "all": [
                    {"present": {"finding": "b3", "level": "L5"}},
                    {"absent": "b3"},
                ]
            },
            "present-and-absent",
        ),
        (
            {
                "all": [
                    {"present": {"finding": "b3", "level": "L5"}},
                    {"absent": {"finding": "b3", "level": "S1"}},
                ]
            },
            None,
        ),
        ({"finding": "o0", "eq": 3.5}, "impossible-threshold"),
        ({"not": {"finding": "n0", "le": 500}}, "impossible-threshold"),
        (
            {"all": [{"finding": "c0", "eq": "x"}, {"finding": "c0", "eq": "y"}]},
            "contradictory-condition",
        ),
        (
            {"at_least": {"k": 2, "of": [{"present": "b0"}, {"absent": "b0"}, {"present": "b1"}]}},
            None,
        ),
        (
            {
                "at_least": {
                    "k": 2,
                    "of": [{"present": "b0"}, {"absent": "b0"}, {"finding": "n0", "gt": 900}],
                }
            },
            "present-and-absent",
        ),
        ({"not": {"any": [{"present": "b0"}, {"absent": "b0"}]}}, "present-and-absent"),
    ],
)
def test_never_fires_is_decided_exactly(tmp_path: Path, when: Any, code: str | None) -> None:
    report = _rules(tmp_path, when)
    never = [i.code for i in report.issues if i.severity == "error"]
    assert never == ([code] if code else [])


def test_either_side_comparisons_do_not_subsume_one_side(tmp_path: Path) -> None:
    report = _rules(
        tmp_path,
        {"finding": "o0", "lt": 3},
        {"finding": "o0", "lt": 3, "side": "left"},
        {"finding": "o0", "lt": 2, "side": "left"},
    )
    subsumed = {i.owner for i in report.issues if i.code == "subsumed-rule"}
    # r1 (left < 3) implies r0 (either side < 3); r2 (left < 2) implies both
    assert subsumed == {"rule 'r1'", "rule 'r2'"}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(pack=prs.rule_packs(), batch=st.lists(prs.cases(), min_size=1, max_size=6))
def test_analysis_is_sound_on_random_rule_sets(
    pack: dict[str, Any], batch: list[dict[str, Any]]
) -> None:
    """A rule lint says never fires never fires; a subsumed rule never fires alone."""
    kb = prs.load_pack(pack)
    root = prs.write_pack(pack)
    try:
        report = lint(root / "rules", root / "knowledge")
    finally:
        shutil.rmtree(root, ignore_errors=True)  # a new folder each example: not left in /tmp
    never = {
        i.owner.split("'")[1]
        for i in report.issues
        if i.owner
        and i.code
        in ("present-and-absent", "contradictory-condition", "impossible-threshold", "dead-fact")
    }
    covering = {
        i.owner.split("'")[1]: [r.split("'")[1] for r in i.related]
        for i in report.issues
        if i.owner and i.code in ("subsumed-rule", "duplicate-rule")
    }
    implied = []  # (if this rule fires, that one fires too) from conflicting-rules
    for i in report.issues:
        if i.code == "conflicting-rules" and len(i.related) == 1 and i.owner:
            b, a = i.owner.split("'")[1], i.related[0].split("'")[1]
            implied.append((b, a) if "whenever it fires" in i.message else (a, b))
    engine = painreason.Engine(kb, backend="python")
    for case in batch:
        fired = {f.rule for f in engine.evaluate(case).firings}
        assert not (fired & never), (fired & never, case)
        for rule, others in covering.items():
            if rule in fired:
                assert set(others) <= fired, (rule, others, case)
        for first, then in implied:
            if first in fired:
                assert then in fired, (first, then, case)


def test_implication_is_sound_for_one_sided_and_negated_leaves() -> None:
    kb = prs.load_pack(
        {
            "rules": [
                {
                    "id": "a",
                    "title": "a",
                    "when": {"not": {"finding": "n0", "lt": 100}},
                    "then": [{"derive": "f0"}],
                    "sources": ["s0"],
                },
                {
                    "id": "b",
                    "title": "b",
                    "when": {"finding": "n0", "ge": 100},
                    "then": [{"derive": "f0"}],
                    "sources": ["s0"],
                },
                {
                    "id": "c",
                    "title": "c",
                    "when": {"finding": "n0", "gt": 150},
                    "then": [{"derive": "f0"}],
                    "sources": ["s0"],
                },
            ],
            "facts": [{"id": "f0", "label": "F", "definition": "d"}],
        }
    )
    rules = {r.id: r for r in kb.rules}
    reasoner = Reasoner(kb.findings, iter_preds(r.when for r in kb.rules))
    terms = {k: dnf(r.when) for k, r in rules.items()}
    assert reasoner.implies(terms["a"], terms["b"])  # known not < 100 forces >= 100
    assert reasoner.implies(terms["b"], terms["a"])  # one slot: >= 100 forces not < 100
    assert reasoner.implies(terms["c"], terms["b"])
    assert not reasoner.implies(terms["b"], terms["c"])


@pytest.mark.parametrize(
    "rules",
    [
        "rules: [{id: x, title: t, when: {present: nope}, then: [{derive: f9}], sources: [s0]}]",
        "rules: [{id: x, title: t, when: {derived: f9}, then: [{propose: {condition: k0, "
        "strength: low}}], sources: [s0]}]",
        "facts: [{id: f0, label: F, definition: d}]\n"
        "rules: [{id: x, title: t, when: {derived: f0}, then: [{derive: f0}], sources: [s0]}]",
        "rules: [{id: x, title: t, when: {present: n0}, then: [{derive: f0}], sources: [s0]}]",
        "rules: [{id: x, title: t, when: {finding: b0, gt: 3}, then: "
        "[{rule_out: k0}], sources: [s0]}]",
        "rules: [{id: x, title: t, when: {present: {finding: b3, level: C5}}, then: "
        "[{flag: {red_flag: r9}}], sources: [s0]}]",
        "rules:\n  - {id: x, title: t, when: {present: b0}, then: [{rule_out: k0}], "
        "sources: [s0]}\n  - {id: x, title: t, when: {present: b1}, then: [{rule_out: k0}], "
        "sources: [s0]}",
        "rules: [{id: x, title: t, when: {finding: c0, eq: w}, then: [{derive: f0}]}]",
        "- just a list",
        "",
        "rules: [{id: x, when: {present: b0",
        "rules: [{id: x, title: t, when: {all: []}, then: [], sources: []}]",
    ],
)
def test_lint_never_crashes_on_broken_rules(tmp_path: Path, rules: str) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(rules)
    (tmp_path / "knowledge" / "k.json").write_text(json.dumps(prs.knowledge_files()))
    report = lint(tmp_path / "rules", tmp_path / "knowledge")
    assert all(i.code in CODES or i.severity == "error" for i in report.issues)
    if rules.strip():
        assert not report.ok
