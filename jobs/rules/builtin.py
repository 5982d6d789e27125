"""The built-in rules, registered by importing the modules that define them.

`jobs.rules.registry` is a leaf (it imports no rule module); the rule modules import it to register
themselves. Whoever builds rules imports this module, so the catalog's rule names are all there; a new rule
module is added to the import below.
"""

from __future__ import annotations

from jobs.rules import cn_identifiers, generic  # noqa: F401 - imported to register their rules
from jobs.rules.registry import RULES, RuleContext, build

__all__ = ["RULES", "RuleContext", "build"]
