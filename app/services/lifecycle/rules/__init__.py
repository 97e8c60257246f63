"""Business rules: ordered, declarative conditions and actions.

A rule is data, never code: each condition is (field, operator, value) over a fixed set of
order facts, each action one of a fixed set of effects. Both are validated when a rule is
saved (``ValidationFailed`` naming the offending field, e.g. ``conditions[1].value``).

- Every change (create, update, enable, disable, reorder, delete) goes through this module
  and writes a ``RuleVersion`` (who, when, what changed, the rule before and after).
- ``evaluate(session, order, stage, actor)`` applies the enabled rules of a stage in
  position order, honours ``stop_processing`` and writes one ``rule_fired`` event per rule
  that fired (rule id, version, what it did). The pipeline calls it for ``on_import``;
  allocation calls ``evaluate_for_allocation`` for ``on_allocation`` and reads ``routing``.
- ``dry_run(session, definition)`` says, for each of the last N orders, whether a rule
  would match and what it would do. It is pure evaluation: it writes nothing.

The package: ``vocabulary`` (the facts and effects a rule may name), ``validation`` (a
definition cleaned when saved), ``versions`` (every change of a rule, versioned),
``evaluation`` (matching and applying at a stage), ``dry_run`` (what a rule would do,
writing nothing). Callers use the names this package re-exports.
"""
from app.services.lifecycle.rules.dry_run import (
    DryRun,
    DryRunRow,
    dry_run,
    dry_run_rule,
)
from app.services.lifecycle.rules.evaluation import (
    Facts,
    RuleHit,
    apply_actions,
    condition_matches,
    condition_results,
    describe_action,
    describe_condition,
    enabled_rules,
    evaluate,
    evaluate_for_allocation,
    hold,
    matches,
    previous_order_counts,
    routing,
)
from app.services.lifecycle.rules.validation import (
    clean_definition,
)
from app.services.lifecycle.rules.versions import (
    SNAPSHOT_FIELDS,
    changed_fields,
    create_rule,
    delete_rule,
    get_rule,
    list_rules,
    move,
    reorder,
    set_enabled,
    snapshot,
    update_rule,
    versions,
)
from app.services.lifecycle.rules.vocabulary import (
    ACTIONS,
    DRY_RUN_DEFAULT,
    DRY_RUN_MAX,
    FIELDS,
    LIST_OPERATORS,
    MAX_ACTIONS,
    MAX_CONDITIONS,
    MAX_LIST_VALUES,
    NO_VALUE_OPERATORS,
    OPERATORS,
    OPERATORS_BY_KIND,
    POSITION_STEP,
    ActionDef,
    FieldDef,
    vocabulary,
)

__all__ = [
    "ACTIONS",
    "ActionDef",
    "DRY_RUN_DEFAULT",
    "DRY_RUN_MAX",
    "FIELDS",
    "FieldDef",
    "LIST_OPERATORS",
    "MAX_ACTIONS",
    "MAX_CONDITIONS",
    "MAX_LIST_VALUES",
    "NO_VALUE_OPERATORS",
    "OPERATORS",
    "OPERATORS_BY_KIND",
    "POSITION_STEP",
    "vocabulary",
    "clean_definition",
    "SNAPSHOT_FIELDS",
    "changed_fields",
    "create_rule",
    "delete_rule",
    "get_rule",
    "list_rules",
    "move",
    "reorder",
    "set_enabled",
    "snapshot",
    "update_rule",
    "versions",
    "Facts",
    "RuleHit",
    "apply_actions",
    "condition_matches",
    "condition_results",
    "describe_action",
    "describe_condition",
    "enabled_rules",
    "evaluate",
    "evaluate_for_allocation",
    "hold",
    "matches",
    "previous_order_counts",
    "routing",
    "DryRun",
    "DryRunRow",
    "dry_run",
    "dry_run_rule",
]
