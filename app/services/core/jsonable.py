"""Turn channel payloads and change records into what a JSON column stores: dicts, lists
and scalars; anything else (Decimal, datetime, ...) as its string."""
from __future__ import annotations

_SCALARS = frozenset({str, int, float, bool, type(None)})


def to_jsonable(value):
    # Exact types first (a parsed JSON payload is nothing else): no call per scalar, which
    # matters on the import's hot path.
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): v if type(v) in _SCALARS else to_jsonable(v)
                for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _SCALARS else to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
