"""Fuzzing the rule loader: painreason._yaml.parse, load_knowledge on generated folders and
load_golden. Any input gives a Document / Knowledge or a typed error (DocumentError inside
the library, KnowledgeError at the API), never another exception.

Folders start from a valid random rule pack (tests/properties/strategies.py) over the
synthetic vocabulary; then values anywhere in the rule, knowledge and golden files are
replaced by hostile ones, keys are dropped or added, and stray files with odd names and
YAML-ish content are put beside them.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import painreason
from painreason._yaml import Document, DocumentError, parse
from painreason.golden import load_golden

from ._hostile import ODD_NUMBERS, fuzz_settings, hostile_text, yaml_ish
from .properties.strategies import cases, knowledge_files, rule_packs

FUZZ = fuzz_settings()
SLOW_FUZZ = fuzz_settings(cap=40)  # writes and loads a folder per example


@FUZZ
@given(text=yaml_ish())
def test_parse_of_yaml_ish_text_is_a_document_or_a_document_error(text: str) -> None:
    out = typed(lambda: parse(text, "fuzz.yaml"), DocumentError)
    if isinstance(out, DocumentError):
        assert out.problem.file == "fuzz.yaml"
        assert out.problem.code in CODES
    else:
        assert isinstance(out, Document)
        json.dumps(out.data, allow_nan=True)  # plain data only: dicts, lists, scalars


CODES = {
    "yaml-syntax",
    "yaml-duplicate-key",
    "yaml-unsafe-tag",
    "file-too-large",
    "file-too-deep",
    "bad-value",
}


def typed(call: Callable[[], Any], allowed: type[Exception]) -> Any:
    """``call()``, or the ``allowed`` error it raised; any other error fails the test."""
    try:
        return call()
    except allowed as exc:
        return exc


def json_values() -> st.SearchStrategy[Any]:
    """What a JSON or YAML file can hold, hostile: NaN, huge ints, odd text, nesting."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.sampled_from(ODD_NUMBERS),
        hostile_text(),
        st.sampled_from(["b0", "n0", "k0", "f0", "s0", "t0", "g0", "r0", "present", "gt"]),
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(hostile_text(8), inner, max_size=3)
        ),
        max_leaves=8,
    )


@st.composite
def mutated(draw: st.DrawFn, data: Any) -> Any:
    """``data`` with one value somewhere replaced, dropped or given a sibling key."""
    if not isinstance(data, dict | list) or not data or draw(st.integers(0, 3)) == 0:
        return draw(json_values())
    if isinstance(data, dict):
        key = draw(st.sampled_from(sorted(data)))
        out = dict(data)
        action = draw(st.sampled_from(["descend", "descend", "drop", "add"]))
        if action == "drop":
            del out[key]
        elif action == "add":
            out[draw(hostile_text(10))] = draw(json_values())
        else:
            out[key] = draw(mutated(data[key]))
        return out
    i = draw(st.integers(0, len(data) - 1))
    items = list(data)
    items[i] = draw(mutated(items[i]))
    if draw(st.booleans()):
        items.append(items[i])  # duplicates: ids defined twice
    return items


def dumps(data: Any) -> str:
    text = json.dumps(data, indent=1, allow_nan=True, default=repr)
    return text.replace("NaN", ".nan").replace("-Infinity", "-.inf").replace("Infinity", ".inf")


SAFE_NAME = st.text(
    st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="/\\"),
    min_size=1,
    max_size=12,
)


@st.composite
def folders(draw: st.DrawFn) -> dict[str, str]:
    """Relative path -> text of a rule pack folder, mutated."""
    rules = draw(rule_packs())
    know = knowledge_files()
    golden = {
        "cases": [
            {
                "id": "g",
                "description": "d",
                "kind": "edge",
                "case": draw(cases()),
                "expect": {"red_flags": []},
            }
        ]
    }
    files = {
        "rules/rules.json": rules,
        "knowledge/knowledge.json": know,
        "knowledge/cases/g.json": golden,
    }
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(files)))
        files[name] = draw(mutated(files[name]))
    out = {name: dumps(data) for name, data in files.items()}
    for _ in range(draw(st.integers(0, 2))):  # stray files beside them
        folder = draw(st.sampled_from(["rules/", "knowledge/", "knowledge/cases/", "rules/sub/"]))
        suffix = draw(st.sampled_from([".yaml", ".yml", ".json", ".txt"]))
        out[folder + draw(SAFE_NAME) + suffix] = draw(yaml_ish())
    return out


def write(files: dict[str, str]) -> Path | None:
    root = Path(tempfile.mkdtemp(prefix="painreason-fuzz-"))
    for name, text in files.items():
        path = root / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
        except (OSError, UnicodeEncodeError, ValueError):  # a name this filesystem refuses
            shutil.rmtree(root, ignore_errors=True)
            return None
    return root


@SLOW_FUZZ
@given(files=folders())
def test_load_of_a_mutated_folder_is_knowledge_or_a_knowledge_error(files: dict[str, str]) -> None:
    root = write(files)
    if root is None:
        return
    try:
        kb = typed(
            lambda: painreason.load_knowledge(root / "rules", root / "knowledge"),
            painreason.KnowledgeError,
        )
        if isinstance(kb, painreason.KnowledgeError):
            assert kb.problems
            assert all(p.code and p.message for p in kb.problems)
            return
        typed(lambda: load_golden(kb), painreason.KnowledgeError)
        engine = painreason.Engine(kb, backend="python")
        case = {"findings": {"b0": "present", "n0": 150, "c0": "x"}}
        out = typed(lambda: engine.evaluate(case), painreason.CaseError)  # vocabulary mutated
        assert isinstance(out, painreason.Result | painreason.CaseError)
    finally:
        shutil.rmtree(root, ignore_errors=True)
