"""The OpenAPI document says what the API does (issue 10, point 4).

FAB builds ``/api/v1/_openapi`` from its generic docstrings and the models' schemas; where
those differ from what Waybill answers, ``refine`` corrects the document once, at the end,
for every operation (FAB's own included):

- decimals (money, weights, rates) are returned as strings ("12.50"): documented as
  strings, not numbers;
- list ``ids`` are integers (every primary key is);
- ``_info``'s ``add_columns``/``edit_columns`` are arrays of field descriptions;
- fields added to FAB's answers by our hooks are documented (the order list's
  ``open_holds``/``is_held``, the customer's ``recent_orders``, the capped count);
- the status codes the shared machinery can answer on any operation are documented where
  they can happen: 400 (a malformed ``q``), 404 (an id in the path that does not exist),
  405 (a path that exists for another method), 409 (a write that conflicts), 413 (a body
  too large), 422 (a value the request guard or a schema refuses), 429 (the login limit).
"""
from __future__ import annotations

import copy
import json
from typing import Any

from flask import Flask, Response, request

ERROR_BODY = {"$ref": "#/components/schemas/Error"}
EXTRA_RESPONSES = {
    "405": "The path exists, but not for this method",
    "409": "Conflicts with the record's state (invalid transition, stale version, not enough "
           "stock, duplicate)",
    "413": "Request body too large",
    "414": "Request URI too long",
    "429": "Too many requests: wait and try again",
}
DECIMAL_STRING = {"type": "string", "format": "decimal",
                  "description": "a decimal number as a string, e.g. \"12.50\""}


def _walk(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _decimals_as_strings(schema: dict) -> None:
    for node in _walk(schema):
        if node.get("type") == "number" and "format" not in node:
            nullable = node.get("nullable")
            for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
                node.pop(key, None)
            node.update(DECIMAL_STRING)
            if nullable:
                node["nullable"] = True


def _merge(target: dict, extra: dict) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def _optional_relations_nullable(schema: dict) -> None:
    """A related record FAB nests in a read (``channel``) is null when the foreign key is
    (an alias for every channel): a relation the schema does not require may be null."""
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        if "$ref" in prop and name not in required:
            schema["properties"][name] = {"allOf": [prop], "nullable": True}


def _components(spec: dict) -> None:
    from .schemas.common import NAMED_SCHEMAS

    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in schemas.items():
        extra = getattr(NAMED_SCHEMAS.get(name), "openapi_extra", None)
        if extra:
            _merge(schema, copy.deepcopy(extra))
    schemas["Error"] = {
        "type": "object", "required": ["message", "code", "errors"],
        "properties": {"message": {"type": "string"}, "code": {"type": "string"},
                       "errors": {"type": "object", "additionalProperties": {
                           "type": "array", "items": {"type": "string"}}}}}
    for name, schema in schemas.items():
        # Output of FAB's generic reads (Api.get, Api.get_list and their nested parts)
        if ".get" in name:
            _decimals_as_strings(schema)
            _optional_relations_nullable(schema)
        if name.endswith(".get_list"):
            # ?q=(columns:!(...)) lists only the columns asked for: none is always there
            schema.pop("required", None)
    order_list = schemas.get("OrderApi.get_list")
    if order_list:
        order_list["properties"]["open_holds"] = {"type": "integer", "minimum": 0}
        order_list["properties"]["is_held"] = {"type": "boolean"}
    customer = schemas.get("CustomerApi.get")
    if customer:
        customer["properties"]["recent_orders"] = {"type": "array", "items": {
            "type": "object", "properties": {
                "id": {"type": "integer"}, "order_number": {"type": "string"},
                "channel_code": {"type": "string", "nullable": True},
                "status": {"type": "string"},
                "total": {**DECIMAL_STRING, "nullable": True},
                "currency": {"type": "string"},
                "placed_at": {"type": "string", "format": "date-time"}}}}
    responses = spec["components"].setdefault("responses", {})
    for status, description in EXTRA_RESPONSES.items():
        responses.setdefault(status, {"description": description, "content": {
            "application/json": {"schema": ERROR_BODY}}})


# What the request guard lets through (services/validation.unstorable_character): no NUL;
# a required text also has a character that is not a space. The guard refuses lone
# surrogates too, but JSON text is UTF-8 (RFC 8259 §8.1), where they cannot occur, and an
# ECMA pattern (what OpenAPI patterns are) cannot name them: a range of them in the
# pattern makes validators drop the whole pattern, NUL included.
STORABLE_TEXT = "^[^\\x00]*$"
NON_BLANK_TEXT = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"


def _storable_strings(schema: dict) -> None:
    """Input strings (values and object keys) are documented as the guard checks them."""
    for node in _walk(schema):
        if node.get("type") == "string" and not {"enum", "format", "pattern"} & set(node):
            node["pattern"] = NON_BLANK_TEXT if node.get("minLength") else STORABLE_TEXT
        extra = node.get("additionalProperties")
        if node.get("type") == "object" and "patternProperties" not in node \
                and extra is not False and not node.get("properties"):
            # A map with keys of the client's choice: its keys as the guard checks them, or
            # as its field says ("x-key-pattern" in the field's metadata: apispec passes x-
            # keys only). Said as patternProperties, not propertyNames, which generators ignore.
            key_pattern = node.pop("x-key-pattern", STORABLE_TEXT)
            node["patternProperties"] = {key_pattern: extra if isinstance(extra, dict) else {}}
            node["additionalProperties"] = False


# FAB's ``?q=`` of a show and of ``_info`` (a list's is list_arguments)
QUERY_COMPONENTS = ("get_info_schema", "get_item_schema", "get_list_schema")


def _input_schemas(spec: dict) -> None:
    for name, schema in spec["components"]["schemas"].items():
        if name.endswith(("In", ".post", ".put")) or name in QUERY_COMPONENTS:
            _storable_strings(schema)
        if name in QUERY_COMPONENTS:
            # FAB reads only these keys; anything else would be checked by the request
            # guard all the same, so a client has no reason to send it
            for node in _walk(schema):
                if node.get("type") == "object" and node.get("properties"):
                    node.setdefault("additionalProperties", False)
    for item in spec.get("paths", {}).values():
        for method, operation in item.items():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and "schema" in parameter:
                    _storable_strings(parameter["schema"])
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                if "schema" in media and "$ref" not in media["schema"]:
                    _storable_strings(media["schema"])
                if "schema" in media and _resolve(spec, media["schema"]).get("required"):
                    # a body with required fields cannot be left out
                    operation["requestBody"]["required"] = True


def _resolve(spec: dict, schema: dict) -> dict:
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        return spec["components"]["schemas"].get(ref.rsplit("/", 1)[1], {})
    return schema


# What services/core/settings._parse reads as a yes/no (any case, blank is no)
BOOL_TEXT = ("^\\s*(1|0|[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Yy][Ee][Ss]|[Nn][Oo]|[Oo][Nn]"
             "|[Oo][Ff][Ff]|[Yy]|[Nn])?\\s*$")


def _int_range(low: int, high: int) -> str:
    """A regular expression for the whole numbers low..high (both >= 0): the range split
    where the numbers share a prefix and end in full digit ranges (1..60 = [1-9]|[1-5][0-9]|60)."""
    def nines(n: int, k: int) -> int:
        return int(str(n)[:-k] + "9" * k) if k < len(str(n)) else 10 ** k - 1

    stops, k = {high}, 1
    while low <= nines(low, k) < high:
        stops.add(nines(low, k))
        k += 1
    k = 1
    while low < (high + 1) - (high + 1) % 10 ** k - 1 <= high:
        stops.add((high + 1) - (high + 1) % 10 ** k - 1)
        k += 1
    parts, start = [], low
    for stop in sorted(stops):
        a, b = str(start).zfill(len(str(stop))), str(stop)
        parts.append("".join(x if x == y else f"[{x}-{y}]" for x, y in zip(a, b)))
        start = stop + 1
    return "|".join(parts)


def _decimal_text(definition) -> str:
    """A decimal setting as text (what settings._parse reads), within its bounds: up to 4
    decimals below the maximum, the maximum itself with zeros. Whole-number bounds only."""
    low, high = int(definition.minimum or 0), int(definition.maximum or 999_999_999)
    below = f"(?:{_int_range(low, high - 1)})(?:\\.[0-9]{{1,4}})?" if high > low else "(?!)"
    return f"^\\s*(?:{below}|{high}(?:\\.0{{1,4}})?)\\s*$"


def _setting_value(definition) -> dict:
    """The JSON Schema of one setting's value, as services/core/settings._parse reads it."""
    if definition.kind == "bool":
        return {"anyOf": [{"type": "boolean"}, {"type": "integer", "enum": [0, 1]},
                          {"type": "string", "pattern": BOOL_TEXT}]}
    if definition.kind == "choice":
        return {"type": "string", "enum": list(definition.choices)}
    bounds = {}
    if definition.minimum is not None:
        bounds["minimum"] = float(definition.minimum)
    if definition.maximum is not None:
        bounds["maximum"] = float(definition.maximum)
    if definition.kind == "int":
        return {"type": "integer", **{k: int(v) for k, v in bounds.items()}}
    if definition.kind == "decimal":
        return {"anyOf": [{"type": "number", **bounds},
                          {**DECIMAL_STRING, "pattern": _decimal_text(definition)}]}
    return {"type": "string", "maxLength": 500, "nullable": True, "pattern": STORABLE_TEXT}


def _settings_by_key(spec: dict) -> None:
    """A setting's value type depends on its key: ``PUT /setting/{key}`` is documented as
    one operation per key, each with its own value schema (OpenAPI cannot tie a body to a
    path parameter's value)."""
    from app.services.core.settings import DEFINITIONS

    paths = spec.get("paths", {})
    generic = paths.get("/api/v1/setting/{key}", {})
    put = generic.pop("put", None)
    if put is None:
        return
    for key, definition in DEFINITIONS.items():
        operation = copy.deepcopy(put)
        operation["parameters"] = [p for p in operation.get("parameters", [])
                                   if p.get("name") != "key"]
        if not operation["parameters"]:
            del operation["parameters"]
        operation["summary"] = f"Change '{definition.label}' (audited)"
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"type": "object", "additionalProperties": False, "required": ["value"],
                       "properties": {"value": _setting_value(definition)}}}}}
        paths[f"/api/v1/setting/{key}"] = {"put": operation}


def _fab_login(spec: dict) -> None:
    """FAB's /api/v1/security/login documents neither its body nor its answer."""
    operation = spec.get("paths", {}).get("/api/v1/security/login", {}).get("post")
    if operation is None or "requestBody" in operation:
        return
    text = {"type": "string", "pattern": NON_BLANK_TEXT}
    operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["username", "password", "provider"],
        "additionalProperties": False,
        "properties": {"username": text, "password": text,
                       "provider": {"type": "string", "enum": ["db"]},
                       "refresh": {"type": "boolean"}}}}}}
    operation.setdefault("responses", {})["200"] = {"description": "Signed in", "content": {
        "application/json": {"schema": {"type": "object", "properties": {
            "access_token": {"type": "string"}, "refresh_token": {"type": "string"}}}}}}


def _fab_menu(spec: dict) -> None:
    """FAB's /api/v1/menu/ lists a separator between entries as the string "-"."""
    schema = _response_schema(spec.get("paths", {}).get("/api/v1/menu/", {}).get("get", {}))
    try:
        childs = schema["properties"]["result"]["items"]["properties"]["childs"]
    except (KeyError, TypeError):
        return
    childs["items"] = {"anyOf": [{"type": "object"}, {"type": "string", "enum": ["-"],
                                                     "description": "a separator"}]}


def _response_schema(operation: dict, status: str = "200") -> dict | None:
    try:
        return operation["responses"][status]["content"]["application/json"]["schema"]
    except (KeyError, TypeError):
        return None


def _list_and_info(path: str, method: str, operation: dict) -> None:
    schema = _response_schema(operation)
    if not schema or "properties" not in schema:
        return
    props = schema["properties"]
    if method == "get" and "ids" in props and "result" in props:
        props["ids"] = {"type": "array", "items": {"type": "integer"},
                        "description": "the ids of the listed rows, in order"}
        props["count"] = {"type": "integer", "description": props.get("count", {}).get(
            "description", "The total record count")}
        props["count_capped"] = {"type": "boolean",
                                 "description": "true when count stopped at the cap"}
    if method == "get" and path.endswith("{pk}") and "id" in props:
        props["id"] = {"type": "integer", "description": "the record's id"}
    if path.endswith("/_info"):
        field = {"type": "object", "description": "a form field: name, label, type, required, ..."}
        props["add_columns"] = {"type": "array", "items": field}
        props["edit_columns"] = {"type": "array", "items": field}
        props["filters"] = {"type": "object", "additionalProperties": {
            "type": "array", "items": {"type": "object"}}}


def _path_ids(operation: dict) -> None:
    """An integer in the path is a record's id: 1 to the largest INTEGER (the router does
    not match a negative one; the request guard answers 404 beyond 2**31-1)."""
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        if parameter.get("in") == "path" and schema.get("type") == "integer":
            schema.setdefault("minimum", 1)
            schema.setdefault("maximum", 2**31 - 1)


def _statuses(path: str, method: str, operation: dict, methods_of_path: set[str]) -> None:
    responses = operation.setdefault("responses", {})
    has_input = bool(operation.get("parameters") or operation.get("requestBody")
                     or "{" in path)

    def add(status: str) -> None:
        if status not in responses and int(status) not in responses:
            responses[status] = {"$ref": f"#/components/responses/{status}"}

    add("400")
    if "{" in path or operation.get("requestBody"):
        add("404")  # an id in the path, or a record a body names (UnknownRecord)
    if has_input:
        add("422")
    add("405")  # a path is also reached with methods it does not have
    if method in ("post", "put", "delete"):
        add("409")
        add("413")
    if operation.get("security") is not None:
        add("401")
        add("403")
    if path.endswith("/security/login"):
        add("401")
        add("429")
    add("414")


def _filter_value(api, column: str, operator: str) -> dict:
    from .base import MAX_IN_VALUES

    datamodel = api.datamodel
    if datamodel.is_relation(column) or datamodel.is_integer(column):
        value = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
    elif datamodel.is_boolean(column):
        value = {"type": "boolean"}
    elif datamodel.is_datetime(column) or datamodel.is_date(column):
        value = {"type": "string", "format": "date-time"}
    else:
        value = {"type": "string", "pattern": STORABLE_TEXT}
    if operator in ("in", "not_in"):
        return {"type": "array", "items": value, "maxItems": MAX_IN_VALUES}
    return value


def list_arguments(api) -> dict:
    """The ``?q=`` of one API's list, as it is checked: its own filter columns and
    operators, sort columns and paging bounds (FAB documents one generic shape for all)."""
    from .base import MAX_FILTERS

    filters = [{"type": "object", "additionalProperties": False,
                "required": ["col", "opr", "value"],
                "properties": {"col": {"type": "string", "enum": [column]},
                               "opr": {"type": "string", "enum": [operator]},
                               "value": _filter_value(api, column, operator)}}
               for column, operators in api.search_operators.items() for operator in operators]
    return {"type": "object", "additionalProperties": False, "properties": {
        "filters": {"type": "array", "maxItems": MAX_FILTERS, "items": {"anyOf": filters}},
        "columns": {"type": "array", "items": {"type": "string", "enum": list(api.list_columns)},
                    "description": "only these of the list's columns"},
        "keys": {"type": "array", "items": {"type": "string", "enum": [
            "list_columns", "order_columns", "label_columns", "description_columns",
            "list_title", "none"]}, "description": "only these parts of the answer"},
        "order_column": {"type": "string", "enum": list(api.order_columns)},
        "order_direction": {"type": "string", "enum": ["asc", "desc"]},
        "page": {"type": "integer", "minimum": 0, "maximum": 100_000},
        "page_size": {"type": "integer", "minimum": 1, "maximum": 100_000,
                      "description": f"above {api.max_page_size} it is cut to {api.max_page_size}"},
    }}


def _write_answers(spec: dict, api, path: str) -> None:
    """A generic POST/PUT that goes through a service (ServiceWriteApi) answers with the
    record as a read shows it (detail schema or FAB's show schema) and its integer id; FAB
    documents its own answer (the input schema, a string id)."""
    paths = spec.get("paths", {})
    detail = f"{type(api).__name__}.get"  # FAB's name for the show schema (detail_schema)
    components = spec["components"]["schemas"]
    for suffix, schema in ((".post", api.add_model_schema), (".put", api.edit_model_schema)):
        extra = getattr(schema, "openapi_extra", None)
        if extra and f"{type(api).__name__}{suffix}" in components:
            _merge(components[f"{type(api).__name__}{suffix}"], copy.deepcopy(extra))
    for item_path, method, status in ((path, "post", "201"), (path + "{pk}", "put", "200")):
        operation = paths.get(item_path, {}).get(method)
        schema = _response_schema(operation, status) if operation else None
        if schema and "properties" in schema:
            schema["properties"]["id"] = {"type": "integer"}
            schema["properties"]["result"] = {"$ref": f"#/components/schemas/{detail}"}


def _list_queries(spec: dict) -> None:
    from flask import current_app

    from .base import ServiceWriteApi, WaybillModelApi

    for api in current_app.appbuilder.baseviews:
        if not isinstance(api, WaybillModelApi):
            continue
        path = f"/api/{api.version}/{api.resource_name}/"
        if isinstance(api, ServiceWriteApi):
            _write_answers(spec, api, path)
        operation = spec.get("paths", {}).get(path, {}).get("get")
        if not operation:
            continue
        for parameter in operation.get("parameters", []):
            if parameter.get("name") == "q" and "content" in parameter:
                parameter["content"]["application/json"]["schema"] = list_arguments(api)


def _numeric_bounds(spec: dict) -> None:
    """A Decimal field's Range comes out as its serialized text ("300.000"): JSON Schema
    wants a number there."""
    for node in _walk(spec):
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if isinstance(node.get(key), str):
                try:
                    node[key] = float(node[key])
                except ValueError:
                    pass


def refine(spec: dict) -> dict:
    _numeric_bounds(spec)
    _components(spec)
    _list_queries(spec)
    _input_schemas(spec)
    _fab_menu(spec)
    _fab_login(spec)
    _settings_by_key(spec)
    for path, item in spec.get("paths", {}).items():
        methods = {m for m in item if m in ("get", "post", "put", "delete", "patch")}
        for method in methods:
            operation = item[method]
            _list_and_info(path, method, operation)
            _path_ids(operation)
            _statuses(path, method, operation, methods)
    return spec


def _refine_response(response: Response) -> Response:
    if (request.endpoint or "").endswith(".get") and request.path.endswith("/_openapi") \
            and response.status_code == 200 and response.is_json:
        spec = response.get_json()
        response.set_data(json.dumps(refine(spec)))
    return response


def install(app: Flask) -> None:
    app.after_request(_refine_response)
