"""Generate ``docs/knowledge.md`` from the rule and knowledge files.

Run ``python -m painreason._docgen > docs/knowledge.md`` (``make docs``); a test keeps the
committed file equal to what this prints.
"""

from __future__ import annotations

from collections import defaultdict

from .loader import Knowledge, load_knowledge
from .rules import AdviseAgainst, Flag, Propose, RuleOut, Suggest


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def knowledge_markdown(kb: Knowledge) -> str:
    """The reference page of a knowledge base, as Markdown."""
    out = [
        "# Knowledge reference",
        "",
        "Generated from `rules/` and `knowledge/` by `python -m painreason._docgen`; do not edit.",
        "",
        f"{len(kb.conditions)} conditions, {len(kb.red_flags)} red flags, {len(kb.rules)} rules, "
        f"{len(kb.facts)} derived facts, {len(kb.findings)} findings, {len(kb.tests)} tests, "
        f"{len(kb.sources)} sources.",
        "",
    ]
    concluding: dict[str, list[str]] = defaultdict(list)
    refuting: dict[str, list[str]] = defaultdict(list)
    flagging: dict[str, list[str]] = defaultdict(list)
    asking: dict[str, list[str]] = defaultdict(list)
    for rule in kb.rules:
        for action in rule.actions:
            if isinstance(action, Propose):
                concluding[action.condition].append(rule.id)
            elif isinstance(action, RuleOut):
                refuting[action.condition].append(rule.id)
            elif isinstance(action, Flag):
                flagging[action.red_flag].append(rule.id)
            elif isinstance(action, Suggest | AdviseAgainst):
                asking[action.test].append(rule.id)

    out += [
        "## Conditions",
        "",
        "| id | condition | region | category | ICD-10-CM | SNOMED CT "
        "| proposed by | ruled out by |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in sorted(kb.conditions.values(), key=lambda c: (c.region, c.id)):
        out.append(
            f"| `{c.id}` | {_cell(c.label)} | {c.region} | {c.category} | "
            f"{', '.join(c.icd10cm) or '-'} | {', '.join(c.snomed) or '-'} | "
            f"{', '.join(f'`{r}`' for r in concluding[c.id]) or '-'} | "
            f"{', '.join(f'`{r}`' for r in refuting[c.id]) or '-'} |"
        )
    out += [
        "",
        "## Red flags",
        "",
        "| id | red flag | urgency | points at | raised by |",
        "|---|---|---|---|---|",
    ]
    for flag in sorted(kb.red_flags.values(), key=lambda x: x.id):
        out.append(
            f"| `{flag.id}` | {_cell(flag.label)} | {flag.urgency} | "
            f"{', '.join(flag.conditions) or '-'} | "
            f"{', '.join(f'`{r}`' for r in flagging[flag.id]) or '-'} |"
        )
    out += [
        "",
        "## Tests",
        "",
        "| id | test | kind | asked for (or advised against) by |",
        "|---|---|---|---|",
    ]
    for t in sorted(kb.tests.values(), key=lambda t: t.id):
        out.append(
            f"| `{t.id}` | {_cell(t.label)} | {t.kind} | "
            f"{', '.join(f'`{r}`' for r in asking[t.id]) or '-'} |"
        )
    if kb.test_groups:
        out += ["", "Test groups:", ""]
        for g in sorted(kb.test_groups.values(), key=lambda g: g.id):
            extra = asking[g.id]
            advised = f" (advised against by {', '.join(f'`{r}`' for r in extra)})" if extra else ""
            out.append(f"- `{g.id}` {_cell(g.label)}: {', '.join(g.tests)}{advised}")
    out += ["", "## Rules by file", ""]
    by_file: dict[str, list[str]] = defaultdict(list)
    for rule in kb.rules:
        figures = []
        for ev in rule.evidence:
            parts = [
                f"{name.replace('_', ' ')} {getattr(ev, name):g}"
                for name in (
                    "sensitivity",
                    "specificity",
                    "lr_positive",
                    "lr_negative",
                    "prevalence",
                )
                if getattr(ev, name) is not None
            ]
            figures.append(f"{_cell(ev.about)}: {', '.join(parts)} [{ev.source}]")
        line = f"- `{rule.id}`: {_cell(rule.title)} [{', '.join(rule.sources)}]"
        if figures:
            line += "  \n  evidence: " + "; ".join(figures)
        by_file[rule.file.split("/", 1)[-1]].append(line)
    for name in sorted(by_file):
        out += [f"### {name}", "", *by_file[name], ""]
    out += ["## Derived facts", "", "| id | fact | definition |", "|---|---|---|"]
    for fact in sorted(kb.facts.values(), key=lambda f: f.id):
        out.append(f"| `{fact.id}` | {_cell(fact.label)} | {_cell(fact.definition)} |")
    out += [
        "",
        "## Findings",
        "",
        "| id | finding | section | kind | unit / values | codes |",
        "|---|---|---|---|---|---|",
    ]
    for f in sorted(kb.findings.values(), key=lambda f: (f.section, f.id)):
        bounds = f.bounds
        shape = (
            ", ".join(f.values)
            if f.values
            else f"{bounds[0]:g}-{bounds[1]:g} {f.unit or ''}".strip()
            if bounds
            else "-"
        )
        if f.lateralised:
            shape += "; per side"
        if f.levels:
            shape += f"; levels {', '.join(f.levels)}"
        codes = ", ".join(f"{c.system.upper()} {c.code}" for c in f.codes) or "-"
        out.append(f"| `{f.id}` | {_cell(f.label)} | {f.section} | {f.kind} | {shape} | {codes} |")
    out += ["", "## Sources", "", "| key | citation | kind | verified |", "|---|---|---|---|"]
    for s in sorted(kb.sources.values(), key=lambda s: s.key):
        out.append(
            f"| `{s.key}` | {_cell(s.citation)} | {s.kind} | "
            f"{'yes' if s.verified else 'no (secondary)'} |"
        )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(knowledge_markdown(load_knowledge()), end="")
