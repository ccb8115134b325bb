"""Command line: ``painreason diagnose`` and ``painreason validate``.

A thin layer over the public API. Exit codes: 0 success, 1 domain error (the message on
stderr, no traceback), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from . import _cli_explain, _cli_research
from .engine import Engine
from .errors import PainreasonError
from .golden import load_golden
from .loader import Knowledge, load_knowledge
from .results import Result

__all__ = ["main", "render_text"]

# Sub-commands defined in other modules add themselves here: each entry takes the
# sub-parsers object and adds parsers whose ``func`` default is a Handler.
_EXTENSIONS: list[Callable[[Any], None]] = [_cli_explain.register, _cli_research.register]
Handler = Callable[[argparse.Namespace, TextIO], int]

DISCLAIMER = (
    "painreason is decision support: it does not replace clinical judgement. "
    "Red flags are listed first."
)


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent + "  ")


def render_text(result: Result, knowledge: Knowledge, backend: str | None = None) -> str:
    """The clinician-readable report of a result: red flags first, then the differential,
    ruled-out conditions, tests with urgency, advice against tests and unused findings."""
    rules = {f.rule: f for f in result.firings}
    lines = [DISCLAIMER, ""]
    head = f"Case {result.case_id or '(no id)'} - knowledge {result.knowledge_version[:12]}"
    lines.append(head + (f" - backend {backend}" if backend else ""))

    shown: set[str] = set()

    def why(rule_id: str, indent: str) -> None:
        firing = rules[rule_id]
        if rule_id in shown:
            lines.append(_wrap(f"{rule_id}: {firing.title} (reasons above)", indent))
            return
        shown.add(rule_id)
        lines.append(_wrap(f"{rule_id}: {firing.title} [{', '.join(firing.sources)}]", indent))
        for m in firing.matched:
            if m.kind == "fact":
                fact = knowledge.facts.get(m.id)
                label = fact.label if fact else m.id
                what = label if m.holds else f"not: {label}"
                lines.append(_wrap(f"because {what} (derived)", indent + "    "))
                continue
            what = m.predicate if m.holds else f"not ({m.predicate})"
            seen = f" - recorded: {m.observed}" if m.observed else ""
            lines.append(_wrap(f"because {what}{seen}", indent + "    "))

    lines += ["", "RED FLAGS"]
    if not result.red_flags:
        lines.append("  none raised")
    for flag in result.red_flags:
        lines.append(f"  !! {flag.urgency.upper()}: {flag.label} [{flag.id}]")
        for rule_id in flag.raised_by:
            why(rule_id, "       ")
    lines += ["", "DIFFERENTIAL"]
    if not result.differential:
        lines.append("  no condition proposed")
    for n, cond in enumerate(result.differential, 1):
        extra = f", strength {cond.strength}" if cond.strength else ""
        codes = f" (ICD-10-CM {', '.join(cond.icd10cm)})" if cond.icd10cm else ""
        lines.append(f"  {n}. {cond.label} [{cond.id}]{codes}: {cond.status}{extra}")
        if cond.supporting:
            lines.append("       supported by:")
        for rule_id in cond.supporting:
            why(rule_id, "         ")
        if cond.refuting:
            lines.append("       refuted by:")
        for rule_id in cond.refuting:
            why(rule_id, "         ")
        for flag_id in cond.red_flags:
            lines.append(f"       pointed at by red flag {flag_id}")
    if result.ruled_out:
        lines += ["", "RULED OUT"]
        for out in result.ruled_out:
            lines.append(f"  - {out.label} [{out.id}]")
            for rule_id in out.refuting:
                why(rule_id, "       ")
    lines += ["", "SUGGESTED TESTS"]
    if not result.tests:
        lines.append("  none")
    for test in result.tests:
        lines.append(f"  {test.urgency.upper():9} {test.label} [{test.id}]")
        for req in test.requested_by:
            lines.append(_wrap(f"{req.rule} ({req.urgency}): {req.rationale}", "            "))
    if result.not_indicated:
        lines += ["", "NOT INDICATED"]
        for adv in result.not_indicated:
            state = (
                ""
                if adv.status == "in_force"
                else (f" - OVERRIDDEN by {', '.join(adv.overridden_by)}")
            )
            lines.append(f"  {adv.label} [{adv.id}]{state}")
            for rule_id, text in zip(adv.advised_by, adv.rationale, strict=False):
                lines.append(_wrap(f"{rule_id}: {text}", "       "))
    if result.unused_findings:
        lines += ["", "FINDINGS NO CONCLUSION USED"]
        lines.append(_wrap(", ".join(result.unused_findings), "  "))
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="painreason",
        description="Explainable rule-based reasoning about neck and back pain. " + DISCLAIMER,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    diag = sub.add_parser("diagnose", help="evaluate a case file and report the conclusions")
    diag.add_argument("case", type=Path, help="case file (YAML or JSON)")
    diag.add_argument(
        "--format",
        choices=("text", "json", "dot", "mermaid", "graphml"),
        default="text",
        help="report (text, json) or trace graph (dot, mermaid, graphml)",
    )
    diag.add_argument("--next", action="store_true", help="also list findings to check next")
    diag.add_argument("--rules", type=Path, help="rule folder (default: bundled)")
    diag.add_argument("--knowledge", type=Path, help="knowledge folder (default: bundled)")
    diag.add_argument("--backend", choices=("auto", "durable", "python"), default="auto")
    diag.set_defaults(func=_diagnose)

    val = sub.add_parser("validate", help="check rule and knowledge folders and golden cases")
    val.add_argument(
        "packs",
        nargs="*",
        type=Path,
        help="folders each holding rules/ and knowledge/ (default: bundled)",
    )
    val.add_argument("--rules", type=Path, help="rule folder")
    val.add_argument("--knowledge", type=Path, help="knowledge folder")
    val.set_defaults(func=_validate)
    for register in _EXTENSIONS:
        register(sub)
    return parser


def _diagnose(args: argparse.Namespace, out: TextIO) -> int:
    knowledge = load_knowledge(args.rules, args.knowledge)
    engine = Engine(knowledge, backend=args.backend)
    result = engine.evaluate(args.case)
    if args.next:
        result = result.with_next_findings(args.case, engine)
    if args.format == "json":
        out.write(result.model_dump_json(indent=2) + "\n")
    elif args.format in ("dot", "mermaid", "graphml"):
        out.write(getattr(result.trace, f"to_{args.format}")())
    else:
        out.write(render_text(result, knowledge, engine.backend))
        if result.next_findings is not None:
            out.write("\n" + _cli_explain.render_next(result.next_findings, 15))
    return 0


def _validate(args: argparse.Namespace, out: TextIO) -> int:
    targets: list[tuple[Path | None, Path | None]] = []
    for pack in args.packs:
        targets.append((pack / "rules", pack / "knowledge"))
    if args.rules or args.knowledge or not targets:
        targets.append((args.rules, args.knowledge))
    failed = 0
    for rules, knowledge in targets:
        try:
            kb = load_knowledge(rules, knowledge)
            cases = load_golden(kb)
        except PainreasonError as exc:
            sys.stderr.write(f"{exc}\n")
            failed += 1
            continue
        out.write(
            f"ok: {len(kb.rules)} rules, {len(kb.findings)} findings, "
            f"{len(kb.conditions)} conditions, {len(kb.tests)} tests, "
            f"{len(kb.sources)} sources, {len(cases)} golden cases "
            f"(knowledge {kb.version[:12]})\n"
        )
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``painreason`` command."""
    args = _parser().parse_args(argv)
    try:
        func: Handler = args.func
        return func(args, sys.stdout)
    except PainreasonError as exc:
        sys.stderr.write(f"painreason: error: {exc}\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
