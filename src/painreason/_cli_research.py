"""CLI sub-commands for researchers: ``lint``, ``evaluate`` and ``compare``.

Registered in :mod:`painreason.cli` through ``_EXTENSIONS``; thin layers over
:mod:`painreason.lint` and :mod:`painreason.vignettes`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from .batch import prefetched
from .lint import lint
from .loader import Knowledge, load_knowledge
from .vignettes import compare_rule_sets, evaluate_vignettes, load_vignettes

__all__ = ["ProgressBar", "register"]


class ProgressBar:
    """A one-line progress bar on a stream (stderr), redrawn at most ten times a second.

    Call it as ``bar(done, total)``; it ends the line when ``done == total``.
    """

    def __init__(self, stream: TextIO, label: str = "evaluating", width: int = 30) -> None:
        self.stream = stream
        self.label = label
        self.width = width
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        filled = self.width * done // total if total else self.width
        pct = 100 * done // total if total else 100
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r{self.label} {pct:3d}% [{bar}] {done}/{total}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def _progress(args: argparse.Namespace) -> ProgressBar | None:
    if args.progress or sys.stderr.isatty():
        return ProgressBar(sys.stderr)
    return None


def register(sub: Any) -> None:
    """Add ``lint``, ``evaluate`` and ``compare`` to the ``painreason`` sub-parsers."""
    p = sub.add_parser(
        "lint",
        help="static analysis of rule packs: never-firing, duplicate, conflicting rules and more",
        description="Lint rule packs (see docs/lint.md for every code). Exit 1 when an issue "
        "is at least as severe as --fail-on (default: error).",
    )
    p.add_argument("packs", nargs="*", type=Path, help="folders each holding rules/ and knowledge/")
    p.add_argument("--rules", type=Path, help="rule folder (default: bundled)")
    p.add_argument("--knowledge", type=Path, help="knowledge folder (default: bundled)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--fail-on", choices=("error", "warning", "info"), default="error")
    p.set_defaults(func=_lint)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--format", choices=("text", "json"), default="text")
    common.add_argument(
        "--labels",
        choices=("open", "closed"),
        default="open",
        help="open: only expect.proposed / not_proposed / ruled_out are labels; closed: every "
        "condition not in expect.proposed is a negative label",
    )
    common.add_argument("--backend", choices=("auto", "durable", "python"), default="auto")
    common.add_argument(
        "--progress", action="store_true", help="show a progress bar (default: on a terminal)"
    )
    common.add_argument(
        "--fail-on-mismatch",
        action="store_true",
        help="exit 1 when a case does not meet its expectations",
    )

    e = sub.add_parser(
        "evaluate",
        parents=[common],
        help="measure a rule set on labelled vignettes (sensitivity, specificity, red flags)",
    )
    e.add_argument(
        "vignettes",
        type=Path,
        help="folder of golden-case files, one such file, or a JSONL file (a case a line)",
    )
    e.add_argument("--rules", type=Path, help="rule folder (default: bundled)")
    e.add_argument("--knowledge", type=Path, help="knowledge folder (default: bundled)")
    e.add_argument(
        "--workers",
        type=int,
        default=None,
        help="evaluate on this many processes (-1: one per CPU; default: this process)",
    )
    e.set_defaults(func=_evaluate)

    c = sub.add_parser(
        "compare",
        parents=[common],
        help="compare two rule sets on the same vignettes",
    )
    c.add_argument("rules_a", type=Path, help="rule folder, or pack folder with rules/")
    c.add_argument("rules_b", type=Path, help="rule folder, or pack folder with rules/")
    c.add_argument("vignettes", type=Path, help="as for evaluate")
    c.add_argument(
        "--knowledge", type=Path, help="knowledge folder for both (default: the pack's, or bundled)"
    )
    c.set_defaults(func=_compare)


def _lint(args: argparse.Namespace, out: TextIO) -> int:
    targets: list[tuple[Path | None, Path | None]] = [
        (pack / "rules", pack / "knowledge") for pack in args.packs
    ]
    if args.rules or args.knowledge or not targets:
        targets.append((args.rules, args.knowledge))
    reports = [lint(rules, knowledge) for rules, knowledge in targets]
    if args.format == "json":
        out.write(json.dumps([json.loads(r.to_json()) for r in reports], indent=2) + "\n")
    else:
        for report in reports:
            out.write(report.to_text())
    return 1 if any(r.fails(args.fail_on) for r in reports) else 0


def _evaluate(args: argparse.Namespace, out: TextIO) -> int:
    kb = load_knowledge(args.rules, args.knowledge)
    vignettes, engine = args.vignettes, None
    if args.workers not in (None, 0, 1):  # evaluate_many on processes, then the report
        vignettes = load_vignettes(args.vignettes, kb)
        cases = [v.golden.case for v in vignettes]
        engine = prefetched(cases, workers=args.workers, knowledge=kb, backend=args.backend)
    report = evaluate_vignettes(
        vignettes,
        kb,
        backend=args.backend,
        labels=args.labels,
        progress=_progress(args),
        engine=engine,
    )
    out.write(report.to_json() if args.format == "json" else report.to_text())
    return 1 if args.fail_on_mismatch and report.n_correct < report.n_cases else 0


def _rule_set(path: Path, knowledge: Path | None) -> Knowledge:
    if (path / "rules").is_dir():
        return load_knowledge(path / "rules", knowledge or path / "knowledge")
    return load_knowledge(path, knowledge)


def _compare(args: argparse.Namespace, out: TextIO) -> int:
    a = _rule_set(args.rules_a, args.knowledge)
    b = _rule_set(args.rules_b, args.knowledge)
    comparison = compare_rule_sets(
        a, b, args.vignettes, backend=args.backend, labels=args.labels, progress=_progress(args)
    )
    out.write(comparison.to_json() if args.format == "json" else comparison.to_text())
    failed = comparison.b.n_correct < comparison.b.n_cases
    return 1 if args.fail_on_mismatch and failed else 0
