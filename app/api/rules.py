"""/api/v1/rule/: business rules and their conditions/actions (read only here: rules are
written through the rules service with their version history, issue 4)."""
from __future__ import annotations

from ..models import Rule
from ..security import permissions as p
from .base import ReadOnlyApi, WaybillInterface


class RuleApi(ReadOnlyApi):
    resource_name = "rule"
    datamodel = WaybillInterface(Rule)
    class_permission_name = p.RESOURCE_RULE
    method_permission_name = p.method_map()
    openapi_spec_tag = "Rules"
    list_columns = [
        "id", "name", "position", "stage", "match", "enabled", "stop_processing", "version",
        "updated_at",
    ]
    show_columns = list_columns + ["description", "conditions", "actions", "created_at"]
    order_columns = ["id", "position", "name"]
    base_order = ("position", "asc")
    search_operators = {"stage": ["eq"], "enabled": ["eq"], "name": ["eq"]}
