"""The fast YAML reader against the reference (ruamel's round-trip loader).

Whatever text the fast reader reads, it must give exactly the reference's data (types, float
signs, key order) and the reference's position for every location, existing or not; the text
it declines goes to the reference, errors included. Checked on every YAML file of the
project, on hand-picked YAML 1.1 traps and on generated documents.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import painreason
from painreason import _yaml, _yaml_fast, _yaml_rt
from painreason._yaml import MAX_DEPTH, MAX_NODES, DocumentError, parse

from ._hostile import fuzz_settings, yaml_ish

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(
    p
    for folder in ("rules", "knowledge", "tests/data")
    for p in (ROOT / folder).rglob("*")
    if p.suffix in (".yaml", ".yml", ".json")
)
FUZZ = fuzz_settings()


def same(a: Any, b: Any) -> bool:
    """Equal, with equal types (``1`` is not ``1.0`` nor ``True``), floats by repr
    (``-0.0`` is not ``0.0``) and keys in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return bool(a == b)


def locations(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every location in ``data``, and from each a few that do not exist."""
    out = [prefix, (*prefix, "missing"), (*prefix, 0), (*prefix, -1), (*prefix, 10**6)]
    if isinstance(data, dict):
        for key, value in data.items():
            out += locations(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += locations(value, (*prefix, i))
    return out


def outcome(read: Any, text: str) -> tuple[str, Any]:
    try:
        return ("doc", read(text, "t.yaml"))
    except DocumentError as exc:
        return ("error", exc.problem)


def assert_same_as_reference(text: str) -> bool:
    """Check ``parse`` against the reference; True when the fast reader read the text."""
    fast = _yaml_fast.read(text, MAX_NODES, MAX_DEPTH)
    got = outcome(parse, text)
    want = outcome(lambda t, p: (_yaml._precheck(t, p), _yaml_rt.parse(t, p))[1], text)
    assert got[0] == want[0], (text, got, want)
    if got[0] == "error":
        assert got[1] == want[1]
        return False
    doc, ref = got[1], want[1]
    assert same(doc.data, ref.data), (text, doc.data, ref.data)
    for loc in locations(ref.data):
        assert doc.position(loc) == ref.position(loc), (text, loc)
    return fast is not None


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_project_file_is_read_fast_and_as_the_reference_reads_it(path: Path) -> None:
    assert assert_same_as_reference(path.read_text(encoding="utf-8"))


def test_the_bundled_knowledge_loads_without_ruamel() -> None:
    code = (
        "import sys, painreason; painreason.load_knowledge(); "
        "print(sorted(m for m in sys.modules if m.startswith('ruamel')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("hidden", ["yaml._yaml", "yaml"])
def test_without_libyaml_everything_is_read_by_ruamel_with_the_same_result(hidden: str) -> None:
    code = (
        f"import sys; sys.modules[{hidden!r}] = None\n"
        "import painreason\nfrom painreason import _yaml_fast\n"
        "assert not _yaml_fast.available()\n"
        "print(painreason.load_knowledge().version)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.strip() == painreason.load_knowledge().version


def test_without_libyaml_parse_gives_the_reference_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "a: [1, yes, {b: 2.5}]\n"
    monkeypatch.setattr(_yaml_fast, "CParser", None)
    assert _yaml_fast.read(text, MAX_NODES, MAX_DEPTH) is None
    doc = parse(text, "t.yaml")
    assert doc.data == {"a": [1, "yes", {"b": 2.5}]}
    assert doc.position(("a", 2, "b")) == (1, 17)


TRAPS = [
    *("yes", "no", "on", "off", "y", "n", "Yes", "NO", "On", "OFF"),
    *("true", "True", "TRUE", "tRUE", "false", "False", "FALSE", "fAlse"),
    *("null", "Null", "NULL", "nULL", "~", "", "none", "None"),
    *("0", "-0", "+0", "7", "+7", "-7", "007", "08", "017", "0o17", "0O17", "0x1F", "0X1f"),
    *("0b101", "1_000", "1__0", "_1", "1:20", "1:20:30", "-1:20", "190:20:30.15"),
    *("1.", "1.0", "-0.0", "+1.5", ".5", "-.5", "+.5e3", ".5e+3", "1e3", "1E-3", "1.5e+3", "1e"),
    *("1.2.3", "1,000", "1e400", "-1e400", "1e-400", "9" * 310, "-" + "9" * 310),
    *(".inf", "-.inf", "+.inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN", "nan", "inf"),
    *("2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-1-1 1:00:00", "2001-12", "2001"),
    *("<<", "=", "-", "--", "---x", "- x", "+", ".", "..", "...x", "~x", "=x", "<x", "<<x"),
    *("12-lead ECG", "3 or more of 4", "25-year-old", "1 week", "0.5 mg", "L5", "C5-C6"),
    *("a: b", "a:b", "a #b", "a# b", "a:", "@x", "`x", "%x", "!x", "&x", "*x", "|", ">"),
    *("it's", 'say "hi"', "é", "日本語", "🙂", "\u00a0x", "x\u00a0", "a\\nb", "tab\\t"),
]


@pytest.mark.parametrize("value", TRAPS)
def test_yaml_1_1_traps_resolve_as_the_reference_resolves_them(value: str) -> None:
    for text in (
        f"k: {value}\n",
        f"- {value}\n",
        f"{{k: {value}}}\n",
        f"[{value}]\n",
        f"{value}: v\n",
        f"{value}\n",
        f"k: '{value}'\n",
        f"k: {json.dumps(value, ensure_ascii=False)}\n",
        f"k: |\n  {value}\n",
        f"k: >-\n  {value}\n  {value}\n",
    ):
        assert_same_as_reference(text)


def test_simple_numbers_booleans_and_nulls_are_read_fast() -> None:
    text = "a: 1\nb: -2.5\nc: 1e3\nd: true\ne: ~\nf: null\ng: no\nh: 017\ni: '1'\n"
    assert _yaml_fast.read(text, MAX_NODES, MAX_DEPTH) is not None
    assert assert_same_as_reference(text)


SHAPES = [
    *("a: b#c\n", "a: b #c\n", "--- |\n  text\n", "--- >\n  a\n  b\n", "--- 'x'\n", ""),
    *("a:\n- b\n- c\n", "- - - a\n", "- {a: b, c: [d, e]}\n", "a: [b,\n  c]\n", "[a, b, ]\n"),
    *("a: {b: c,\n   d: e}\n", "a: 'multi\n  line'\n", 'a: "multi\\\n  line"\n', "{a: 1, }\n"),
    *("a: b\r\nc: d\r\n", "a: |\r\n  x\r\n  y\r\nb: 1\r\n", "a: >+\n  x\n\n\nb: 1\n"),
    *("a: |2\n   x\n", "a: |-\n\n  x\n\n", "? a\n: b\n", "-\n  a: 1\n", "- \n  - x\n"),
    *('a: "\\u00e9\\x41\\t\\/"\n', 'a: "\\N\\_\\L\\P\\e"\n', "a:\n  b\n  c\n", "# c\n"),
    *("a: 日本語\n日本: 語\n", "a: 🙂\n🙂: b\n", "a: \u00a0\n", "a: x\u00a0y\n", "   \n"),
    *("a: [&x {b: 1}, *x]\n", "&r {a: 1}\n", "- &a [1]\n- *a\n- &b {x: *a}\n- *b\n"),
    *("a: >\n  folded\n  text\n\n  para\nb: 1\n", "a: |\n  # not a comment\n"),
    *("a:\n  - b: 1\n    c: 2\n  - d: 3\n", "seq:\n - a\n -  b\n", "k: " + "v" * 5000 + "\n"),
]


@pytest.mark.parametrize("text", SHAPES)
def test_usual_shapes_are_read_fast_as_the_reference_reads_them(text: str) -> None:
    assert assert_same_as_reference(text)


@pytest.mark.parametrize(
    "text",
    [
        "k" * 1100 + ": v\n",  # a key longer than YAML's 1,024 characters
        "a: b: c\n",
        "a: x\n  # comment\n  y\n",
        "a: !!str 1\n",  # tags
        "a: ! x\n",
        "!!map {a: 1}\n",
        "a: &x 1\nb: *x\n",  # an anchored scalar (ruamel keeps it as a special type)
        "a: &x [1]\nb: &x [2]\n",  # an anchor defined twice (ruamel warns)
        "a: *x\n",  # an undefined alias
        "*x : 1\n",  # an alias as a key
        "a: 1\na: 2\n",  # a duplicate key
        "a: 1\n'a': 2\n",
        "<<: {a: 1}\n",  # a merge key
        "=: 1\n",
        "1: a\n",  # keys that are not strings
        "true: a\n",
        "null: a\n",
        "? [a]\n: 1\n",
        "a: 1\n---\nb: 2\n",  # two documents
        "%YAML 1.2\n---\na: 1\n",  # a directive
        "a:\t1\n",  # a tab
        "\ufeffa: 1\n",  # a byte-order mark
        "a: b\x85c\n",  # YAML 1.1 line breaks
        "a: b\u2028c\n",
        "a: 0x1F\n",  # numbers in other forms, timestamps
        "a: 1_000\n",
        "a: .inf\n",
        "a: 2001-12-14\n",
        "a: [1\n",  # a syntax error
        "a: " + "9" * 400 + "\n",  # an integer no float holds
    ],
)
def test_what_the_fast_reader_declines_goes_to_the_reference(text: str) -> None:
    assert _yaml_fast.read(text, MAX_NODES, MAX_DEPTH) is None
    assert_same_as_reference(text)


def test_aliases_give_copies_and_their_anchors_positions() -> None:
    text = "a: &x\n  b: [1, 2]\nc: *x\nd:\n  - *x\n  - &y [3]\n  - *y\n"
    assert assert_same_as_reference(text)
    doc = parse(text, "t.yaml")
    assert doc.data["a"] == doc.data["c"] == doc.data["d"][0]
    assert doc.data["a"] is not doc.data["c"]
    assert doc.data["a"]["b"] is not doc.data["c"]["b"]


def test_limits_decline_to_the_reference_which_reports_them() -> None:
    bomb = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcd", "bcde", strict=True)
    )
    assert _yaml_fast.read(bomb, MAX_NODES, MAX_DEPTH) is None
    assert outcome(parse, bomb)[1].code == "file-too-large"
    deep = "a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n"
    assert _yaml_fast.read(deep, MAX_NODES, MAX_DEPTH) is None
    assert_same_as_reference(deep)
    assert _yaml_fast.read("a: [[[]]]\n", MAX_NODES, 2) is None


# --- generated documents ------------------------------------------------------------------

WORDS = st.one_of(
    st.sampled_from(TRAPS),
    st.from_regex(r"[a-z][a-z0-9_]{0,8}( [a-z0-9]{1,5})?", fullmatch=True),
    st.text(
        st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))
        | st.sampled_from(" :#-'\"\\"),
        min_size=1,
        max_size=8,
    ),
)


def quoted(text: str, style: str) -> str:
    if style == "'":
        return "'" + text.replace("'", "''") + "'"
    return json.dumps(text, ensure_ascii=style == '"a')


@st.composite
def scalar(draw: st.DrawFn, indent: int) -> str:
    """A scalar as written in a file: plain (maybe over lines), quoted or a block scalar."""
    words = draw(st.lists(WORDS, min_size=1, max_size=3))
    style = draw(st.sampled_from(["plain", "plain", "plain", "'", '"', '"a', "|", ">"]))
    pad = " " * (indent + 2)
    if style == "plain":
        return draw(st.sampled_from([" ", f"\n{pad}", f"\n\n{pad}"])).join(words)
    if style in ("|", ">"):
        head = style + draw(st.sampled_from(["", "-", "+", "2"]))
        return head + "".join(f"\n{pad}{w}" for w in words)
    return quoted(" ".join(words), style)


@st.composite
def flow(draw: st.DrawFn, depth: int = 0) -> str:
    """A flow sequence or mapping, nested at most twice."""
    items = draw(
        st.lists(
            scalar(0).filter(lambda s: "\n" not in s)
            | (flow(depth + 1) if depth < 2 else st.nothing()),
            max_size=3,
        )
    )
    if draw(st.booleans()):
        return "[" + ", ".join(items) + "]"
    keys = draw(
        st.lists(WORDS.filter(lambda w: "\n" not in w), min_size=len(items), max_size=len(items))
    )
    return "{" + ", ".join(f"{k}: {v}" for k, v in zip(keys, items, strict=True)) + "}"


@st.composite
def block(draw: st.DrawFn, anchors: list[str], indent: int = 0, depth: int = 0) -> str:
    """A block mapping or sequence whose values are scalars, flow collections or blocks;
    collections may carry an anchor (each new), and values be aliases of earlier ones."""
    pad = " " * indent
    is_map = draw(st.booleans())
    keys = draw(
        st.lists(WORDS.filter(lambda w: "\n" not in w), min_size=1, max_size=3, unique=True)
    )
    lines = []
    for key in keys:
        if is_map:
            style = draw(st.sampled_from(["plain", "plain", "'", '"']))
            head = f"{pad}{key if style == 'plain' else quoted(key, style)}:"
        else:
            head = f"{pad}-"
        kinds = ["scalar", "scalar", "flow", "block", "empty", "alias"] if depth < 3 else ["scalar"]
        kind = draw(st.sampled_from(kinds))
        comment = draw(st.sampled_from(["", "", " # note", " #x"]))
        anchor = ""
        if kind in ("flow", "block") and draw(st.booleans()):
            anchors.append(f"n{len(anchors)}")
            anchor = f"&{anchors[-1]} "
        if kind == "alias" and anchors:
            lines.append(f"{head} *{draw(st.sampled_from(anchors))}{comment}")
        elif kind in ("scalar", "alias"):
            lines.append(f"{head} {draw(scalar(indent))}{comment}")
        elif kind == "flow":
            lines.append(f"{head} {anchor}{draw(flow())}{comment}")
        elif kind == "empty":
            lines.append(f"{head}{comment}")
        else:
            child_indent = indent + draw(st.sampled_from([2, 4] if is_map else [2]))
            if is_map and draw(st.booleans()):
                child_indent = indent  # an indentless sequence, if the child is one
            child = draw(block(anchors, child_indent, depth + 1))
            if not is_map and not anchor and draw(st.booleans()):
                lines.append(f"{head} {child.lstrip(' ')}")  # - a: 1 (compact)
            else:
                lines.append(f"{head} {anchor.strip()}{comment}\n{child}")
    return "\n".join(lines)


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A document, with a comment line here and there, CRLF or LF, maybe a BOM or ---."""
    text = draw(block([]) | flow())
    lines = text.split("\n")
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(lines)))
        lines.insert(at, draw(st.sampled_from(["# comment", "", "   ", "  # indented"])))
    eol = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    start = draw(st.sampled_from(["", "", "---\n", "--- # c\n", "\ufeff"]))
    end = draw(st.sampled_from(["\n", "", "\n...\n"]))
    return start + eol.join(lines) + end


@FUZZ
@given(text=documents())
def test_generated_documents_read_as_the_reference_reads_them(text: str) -> None:
    assert_same_as_reference(text)


@FUZZ
@given(text=yaml_ish())
def test_yaml_ish_text_reads_as_the_reference_reads_it(text: str) -> None:
    assert_same_as_reference(text)


@FUZZ
@given(words=st.lists(WORDS, min_size=1, max_size=4), sep=st.sampled_from([" ", "\n  ", "\n\n  "]))
def test_plain_scalars_resolve_as_the_reference_resolves_them(words: list[str], sep: str) -> None:
    value = sep.join(words)
    for text in (f"k: {value}\n", f"- {value}\n", f"{value}: 1\n", f"[{value}]\n"):
        assert_same_as_reference(text)


@FUZZ
@given(text=documents() | yaml_ish())
def test_depth_bounds_are_never_below_the_depths_they_bound(text: str) -> None:
    # the precheck skips the exact depths when these bounds are within the limit
    assert _yaml._flow_depth(text) <= _yaml._flow_bound(text)
    assert _yaml._block_depth(text) <= _yaml._block_bound(text)


@FUZZ
@given(
    value=st.from_regex(
        r"[-+]?[0-9][0-9_.eE+\-:xob]{0,10}|[-+]?\.[0-9a-zA-Z_.]{0,6}", fullmatch=True
    )
)
def test_number_like_scalars_resolve_as_the_reference_resolves_them(value: str) -> None:
    for text in (f"k: {value}\n", f"- {value}\n", f"[{value}]\n"):
        assert_same_as_reference(text)
