"""CLI sub-commands: ``explain``, ``why-not``, ``what-if`` and ``next-findings``.

Registered in :mod:`painreason.cli` through ``_EXTENSIONS``. Each takes ``--rules``,
``--knowledge`` and ``--backend`` like ``diagnose``, writes text by default and JSON with
``--format json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from pydantic import TypeAdapter

from ._yaml import DocumentError, parse
from .engine import Engine
from .explain import explain
from .loader import load_knowledge
from .results import NextFinding
from .whatif import next_findings, what_if
from .whynot import why_not

__all__ = ["register", "render_next"]

DISCLAIMER = (
    "painreason is decision support: it does not replace clinical judgement. "
    "Red flags are listed first."
)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("case", type=Path, help="case file (YAML or JSON)")


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--rules", type=Path, help="rule folder (default: bundled)")
    p.add_argument("--knowledge", type=Path, help="knowledge folder (default: bundled)")
    p.add_argument("--backend", choices=("auto", "durable", "python"), default="auto")


def _engine(args: argparse.Namespace) -> Engine:
    return Engine(load_knowledge(args.rules, args.knowledge), backend=args.backend)


def _assignment(text: str) -> tuple[str, Any]:
    """``finding=value``; the value is read as YAML (``present``, ``120``, ``{left: present}``)."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(
            f"must be finding=value, e.g. saddle_anaesthesia=present (got {text!r})"
        )
    try:
        value = parse(raw, "--set").data
    except DocumentError as exc:
        raise argparse.ArgumentTypeError(
            f"value of {name!r} must be YAML ({exc.problem.message})"
        ) from None
    return name, value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1 (got {text!r})")
    return value


def register(sub: Any) -> None:
    """Add the explanation sub-commands to the ``painreason`` parser."""
    p = sub.add_parser("explain", help="how a conclusion was reached, back to the findings")
    _common(p)
    p.add_argument("target", help="condition, red flag, test, advice or derived fact id")
    _options(p)
    p.set_defaults(func=_explain)

    p = sub.add_parser(
        "why-not", help="why a condition was not proposed, and which findings would propose it"
    )
    _common(p)
    p.add_argument("condition", help="condition id")
    p.add_argument(
        "--max-size", type=_positive, default=3, help="largest set of findings to search"
    )
    _options(p)
    p.set_defaults(func=_why_not)

    p = sub.add_parser("what-if", help="re-evaluate with findings set or removed; show the diff")
    _common(p)
    p.add_argument(
        "--set",
        dest="set_",
        action="append",
        default=[],
        type=_assignment,
        metavar="FINDING=VALUE",
        help="record a finding (value as in a case file, e.g. present, 120, '{left: present}')",
    )
    p.add_argument(
        "--unset", action="append", default=[], metavar="FINDING", help="make not recorded"
    )
    _options(p)
    p.set_defaults(func=_what_if)

    p = sub.add_parser(
        "next-findings", help="unrecorded findings that could raise a red flag or change the result"
    )
    _common(p)
    p.add_argument(
        "--max-size", type=_positive, default=2, help="largest set of findings to search"
    )
    p.add_argument("--limit", type=int, default=15, help="how many to list in text (0: all)")
    _options(p)
    p.set_defaults(func=_next)


def _explain(args: argparse.Namespace, out: TextIO) -> int:
    engine = _engine(args)
    result = engine.evaluate(args.case)
    found = explain(result, args.target, engine.knowledge)
    if args.format == "json":
        out.write(found.model_dump_json(indent=2) + "\n")
    else:
        out.write(DISCLAIMER + "\n\n" + found.to_text())
    return 0


def _why_not(args: argparse.Namespace, out: TextIO) -> int:
    found = why_not(args.case, args.condition, engine=_engine(args), max_size=args.max_size)
    if args.format == "json":
        out.write(found.model_dump_json(indent=2) + "\n")
    else:
        out.write(DISCLAIMER + "\n\n" + found.to_text())
    return 0


def _what_if(args: argparse.Namespace, out: TextIO) -> int:
    values = dict(args.set_)
    diff = what_if(args.case, set=values, unset=args.unset, engine=_engine(args))
    if args.format == "json":
        out.write(diff.model_dump_json(indent=2) + "\n")
    else:
        out.write(DISCLAIMER + "\n\n" + diff.to_text())
    return 0


_NEXT = TypeAdapter(tuple[NextFinding, ...])


def render_next(found: tuple[NextFinding, ...], limit: int = 0) -> str:
    """The findings to check next as text, most consequential first."""
    lines = ["FINDINGS TO CHECK NEXT"]
    if not found:
        lines.append("  none: no unrecorded finding would change the result")
    shown = found if limit <= 0 else found[:limit]
    for n, nf in enumerate(shown, 1):
        partly = f" (recorded: {nf.recorded})" if nf.recorded else ""
        lines.append(f"  {n}. {nf.label} [{nf.finding}]{partly}")
        for imp in nf.impacts[:4]:
            detail = f" ({imp.detail})" if imp.detail else ""
            need = f" with {', '.join(imp.together_with)}" if imp.together_with else ""
            lines.append(f"       could {imp.effect} {imp.target}{detail}{need} [via {imp.rule}]")
        if len(nf.impacts) > 4:
            lines.append(f"       ... and {len(nf.impacts) - 4} more")
    if len(shown) < len(found):
        lines.append(f"  ... {len(found) - len(shown)} more (--limit 0 lists all)")
    return "\n".join(lines) + "\n"


def _next(args: argparse.Namespace, out: TextIO) -> int:
    found = next_findings(args.case, engine=_engine(args), max_size=args.max_size)
    if args.format == "json":
        out.write(_NEXT.dump_json(found, indent=2).decode() + "\n")
    else:
        out.write(DISCLAIMER + "\n\n" + render_next(found, args.limit))
    return 0
