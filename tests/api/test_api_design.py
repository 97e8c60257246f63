"""Design rules every API class keeps: sorting only on indexed columns, no filter that scans
with LIKE '%...%', a permission of the role matrix for every exposed method."""
from __future__ import annotations

from sqlalchemy import Column, UniqueConstraint

from app.api import APIS
from app.api.base import WaybillModelApi
from app.security.roles import ROLE_MATRIX


def _leading_columns(table) -> set[str]:
    """Columns an index can sort by: each index's first column, unique ones, the pk."""
    names = {c.name for c in table.primary_key.columns}
    for index in table.indexes:
        expressions = list(index.expressions)
        if expressions and isinstance(expressions[0], Column):
            names.add(expressions[0].name)
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and constraint.columns:
            names.add(list(constraint.columns)[0].name)
    names |= {c.name for c in table.columns if c.unique or c.index}
    return names


def _views(app):
    return [v for v in app.appbuilder.baseviews if type(v) in APIS]


def test_every_api_is_registered(app):
    assert {type(v) for v in _views(app)} == set(APIS)


def test_order_columns_have_an_index(app):
    problems = []
    for view in _views(app):
        if not isinstance(view, WaybillModelApi):
            continue
        table = view.datamodel.obj.__table__
        indexed = _leading_columns(table)
        for column in view.order_columns:
            if column not in indexed:
                problems.append(f"{type(view).__name__}.{column}")
    assert not problems, f"sortable without an index: {problems}"


def test_no_contains_filters(app):
    for view in _views(app):
        if not isinstance(view, WaybillModelApi):
            continue
        for column, filters in view._filters.get_search_filters().items():
            ops = {f.arg_name for f in filters}
            assert not ops & {"ct", "nct", "ew", "new"}, (type(view).__name__, column, ops)


def test_every_exposed_method_maps_to_a_matrix_row(app):
    for view in _views(app):
        rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith(f"{view.endpoint}.")]
        assert rules, type(view).__name__
        for rule in rules:
            method = rule.endpoint.split(".", 1)[1]
            action = view.method_permission_name.get(method)
            assert action, f"{rule.endpoint} has no entry in method_permission_name"
            assert (view.class_permission_name, action) in ROLE_MATRIX, rule.endpoint
