"""What an engine backend returns: the rules that fired and what made them fire.

Both backends return an :class:`Outcome`; :mod:`painreason.results` turns it into a
:class:`~painreason.results.Result`. Backends agree when their outcomes are equal.
"""

from __future__ import annotations

from typing import NamedTuple

# (rule id, leaf index in that rule, polarity): leaf ``index`` of rule ``rule`` held with
# ``positive`` True, or was known false with ``positive`` False, on a path that made a rule fire.
Support = tuple[str, int, bool]


class Outcome(NamedTuple):
    """Fired rules with their support, true facts, and the support of false facts.

    ``fired[rule_id]`` is the set of leaves (of that rule) on a true path of its condition.
    ``false_facts[fact]`` is, for a derived fact known to be false, the leaves of each
    deriving rule that made that rule false. Only facts some condition reads as negated
    need be listed.

    A named tuple: the fast backend makes one per case, and a tuple is made about three
    times faster than a frozen dataclass (outcomes are only ever compared with outcomes).
    """

    fired: dict[str, frozenset[Support]]
    true_facts: frozenset[str]
    false_facts: dict[str, frozenset[Support]]
