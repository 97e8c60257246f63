"""The request-level half of input validation (services/core/validation.py holds the rules):
one ``before_request`` that every page, API call and form post passes through, so that
no input reaches a query that the database would refuse with a 500.

- **Ids in the URL** (``/orders/show/<pk>``, ``/api/v1/order/<int:pk>``, ...): a number no
  INTEGER column can hold is an id that cannot exist: 404.
- **Text**: a NUL or a lone surrogate in a query argument, a form field or a JSON body
  (at any depth) cannot be stored or compared in PostgreSQL: 422 naming the field
  (``note``, ``shipping_address.line1``, ``q``).
- **List arguments** of the HTML lists (FAB's ``page_<View>``, ``psize_<View>``,
  ``_oc_<View>``/``_od_<View>``, and our own ``page``): a page number or size out of range
  or a sort column the list does not offer: 422 naming the argument.

Webhooks are left to their own handler: a channel's bad order is quarantined as a sync
conflict there, never refused.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterator

from flask import Flask, current_app, request

from app.services.core import validation
from app.services.core.errors import NotFound, ValidationFailed

MAX_PAGE = 100_000          # page numbers (offset = page x size stays far inside BIGINT)
MAX_HTML_PAGE_SIZE = 500    # rows an HTML list may show at once
SKIPPED_PREFIXES = ("/webhooks/", "/static/")
ID_ARG_RE = re.compile(r"(^|_)(pk|id)$")
INT_TEXT_RE = re.compile(r"^-?\d+$")
PAGE_ARG_RE = re.compile(r"^(page|page_.+)$")
PAGE_SIZE_ARG_RE = re.compile(r"^(page_size|psize_.+)$")


def check_request() -> None:
    if request.path.startswith(SKIPPED_PREFIXES):
        return
    _check_path_ids(request.view_args or {})
    _check_text(_named_values())
    _check_list_args(request.args)


# --- ids in the URL -----------------------------------------------------------------------

def _check_path_ids(view_args: dict[str, Any]) -> None:
    for name, value in view_args.items():
        if not ID_ARG_RE.search(name):
            continue
        if isinstance(value, str):
            if not INT_TEXT_RE.match(value.strip()):
                continue  # not a number: the view answers (404 or its own message)
            value = int(value) if len(value) < 40 else validation.INT_MAX + 1
        if isinstance(value, int) and not validation.INT_MIN <= value <= validation.INT_MAX:
            raise NotFound(f"Nothing has the id {str(value)[:24]}: ids go up to "
                           f"{validation.INT_MAX:,}", errors={name: ["no such record"]})


# --- text -----------------------------------------------------------------------------------

def _named_values() -> Iterator[tuple[str, Any]]:
    """(field name, value) of every query argument, form field and JSON body value."""
    for name, value in request.args.items(multi=True):
        yield name, value
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if request.mimetype == "application/x-www-form-urlencoded" or \
                request.mimetype == "multipart/form-data":
            for name, value in request.form.items(multi=True):
                yield name, value
        elif request.is_json:
            yield from _json_values()


def _json_values() -> Iterator[tuple[str, Any]]:
    limit = current_app.config.get("OMS_MAX_JSON_BYTES", 256 * 1024)
    if request.content_length is not None and request.content_length > limit:
        return  # the API answers 413 itself
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        return
    try:
        data = json.loads(raw) if raw.strip() else None
    except RecursionError:
        raise ValidationFailed.field("body", "nests too deeply to be read") from None
    except ValueError:
        return  # the API names the malformed body itself
    yield from _walk(data, "")


def _walk(data: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    # iterative, so that a deeply nested body cannot exhaust the stack here
    stack = [(prefix, data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                key_text = str(key)
                name = f"{path}.{key_text}" if path else key_text
                yield (path or "body"), key_text  # keys are stored too (addresses, tags)
                stack.append((name, item))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                stack.append((f"{path}.{index}" if path else str(index), item))
        else:
            yield (path or "body"), value


def check_parsed(data: Any, prefix: str) -> None:
    """The same text check for a value parsed from an argument (the API lists' ``q``,
    whose JSON or Rison escapes can spell a NUL the raw argument does not contain)."""
    _check_text(_walk(data, prefix))


def _check_text(values) -> None:
    errors = validation.Errors()
    for name, value in values:
        if isinstance(value, str):
            problem = validation.unstorable_character(value)
            if problem and name not in errors.errors:
                errors.add(name, f"contains {problem}; remove it and try again")
    errors.raise_if_any("Some text cannot be stored")


# --- list arguments of the HTML lists --------------------------------------------------------

def _check_list_args(args) -> None:
    errors = validation.Errors()
    for name, value in args.items():
        try:
            if PAGE_ARG_RE.match(name):
                validation.integer(value, name, minimum=0, maximum=MAX_PAGE)
            elif PAGE_SIZE_ARG_RE.match(name):
                validation.integer(value, name, minimum=1, maximum=MAX_HTML_PAGE_SIZE)
            elif name.startswith("_oc_"):
                _check_sort(name[4:], value, args.get(f"_od_{name[4:]}"))
        except ValidationFailed as err:
            for field, messages in err.errors.items():
                for message in messages:
                    errors.add(field, message)
    errors.raise_if_any("This list cannot be shown that way")


def _check_sort(view_name: str, column: str, direction: str | None) -> None:
    view = _view_named(view_name)
    if view is None:
        return  # FAB ignores sort arguments of views that are not on the page
    allowed = list(getattr(view, "order_columns", None) or [])
    if column not in allowed:
        raise ValidationFailed.field(
            f"_oc_{view_name}", f"This list cannot be sorted by '{column[:40]}'; it sorts by "
                                f"{', '.join(allowed) or 'nothing'}")
    if direction not in (None, "asc", "desc"):
        raise ValidationFailed.field(f"_od_{view_name}", "The sort order must be asc or desc")


def _view_named(name: str):
    for view in current_app.appbuilder.baseviews:
        if type(view).__name__ == name:
            return view
    return None


def install(app: Flask) -> None:
    app.before_request(check_request)
