"""Coverage-guided fuzzing with atheris (libFuzzer): not part of the test suite.

Usage (from the project root, after ``pip install atheris``)::

    python benchmarks/fuzz_atheris.py case  -max_total_time=120   # Case.from_text + evaluate
    python benchmarks/fuzz_atheris.py yaml  -max_total_time=120   # painreason._yaml.parse
    python benchmarks/fuzz_atheris.py rules -max_total_time=120   # a rule file + load_knowledge

Any libFuzzer option may follow the target (``-runs=N``, a corpus folder, ...). The contract
checked is the library's: every input ends in a value or a PainreasonError (DocumentError for
the parser); anything else is a crash that libFuzzer reports with the input that caused it.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

try:
    import atheris
except ImportError:  # pragma: no cover - an optional tool
    sys.exit("atheris is not installed: pip install atheris")

with atheris.instrument_imports():
    import ruamel.yaml  # noqa: F401  (instrumented too: its branches guide the fuzzer)

    import painreason
    from painreason._yaml import DocumentError, parse

ROOT = Path(__file__).resolve().parents[1]
SEEDS = [p.read_bytes() for p in sorted((ROOT / "knowledge" / "examples").glob("*.yaml"))]
ENGINE: painreason.Engine | None = None
PACK = Path(tempfile.mkdtemp(prefix="painreason-atheris-"))
KNOWLEDGE = """findings:
  - {id: b0, label: B0, definition: s, kind: boolean, section: history}
  - {id: n0, label: N0, definition: s, kind: numeric, section: vital_signs, range: [0, 200]}
conditions:
  - {id: k0, label: K0, region: lumbar, category: specific, description: s}
sources:
  - {key: s0, citation: synthetic, kind: study}
"""


def text_of(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")


def fuzz_case(data: bytes) -> None:
    global ENGINE
    if ENGINE is None:
        ENGINE = painreason.Engine(backend="python")
    with contextlib.suppress(painreason.PainreasonError):
        ENGINE.evaluate(painreason.Case.from_text(text_of(data)))


def fuzz_yaml(data: bytes) -> None:
    with contextlib.suppress(DocumentError):
        parse(text_of(data), "fuzz.yaml")


def fuzz_rules(data: bytes) -> None:
    (PACK / "rules").mkdir(exist_ok=True)
    (PACK / "knowledge").mkdir(exist_ok=True)
    (PACK / "knowledge" / "k.yaml").write_text(KNOWLEDGE)
    (PACK / "rules" / "r.yaml").write_bytes(data)
    with contextlib.suppress(painreason.KnowledgeError):
        painreason.load_knowledge(PACK / "rules", PACK / "knowledge")


TARGETS = {"case": fuzz_case, "yaml": fuzz_yaml, "rules": fuzz_rules}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(TARGETS)}}} [libFuzzer options]")
    target = TARGETS[sys.argv[1]]
    for seed in SEEDS:  # the examples must pass before fuzzing starts
        target(seed)
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
