"""What every Waybill REST API shares (Superset's BaseSupersetModelRestApi, FAB_NOTES §5):

- the error body of DESIGN.md for every answer FAB builds itself (400/401/403/404/422/500)
  and for domain errors raised by the services (``DomainError.status``/``to_dict()``);
- ``allow_browser_login`` (the HTML UI's JavaScript may call the API with its session
  cookie) **without** the CSRF hole that opens (FAB_NOTES "API + session cookie"):
  ``_guard_cookie_writes`` refuses any unsafe request authenticated by the session cookie
  that lacks a valid ``X-CSRFToken`` header; JWT and API-key clients are not affected;
- paging (25 a page, at most 200), an explicit allow-list of filter operators per column
  (``search_operators``) so no list filter does unbounded work, and a capped count;
- generic writes (POST/PUT/DELETE) that go through a service instead of FAB's datamodel
  (``ServiceWriteApi``), or no generic writes at all (``ReadOnlyApi``).

The APIs never commit: every service call is its own transaction (services/core/transaction.py).
"""
from __future__ import annotations

import copy
import functools
import json
import sys
from typing import Any, Callable

import prison
from flask import current_app, g, request
from flask_appbuilder.api import BaseApi, ModelRestApi
from flask_appbuilder.api.convert import Model2SchemaConverter
from flask_appbuilder.hooks import before_request
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_jwt_extended import verify_jwt_in_request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from marshmallow import Schema, ValidationError
from marshmallow_sqlalchemy import SQLAlchemyAutoSchema
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from .. import request_guard
from ..extensions import csrf, db
from app.services.core.actor import Actor
from app.services.core import validation
from app.services.core.errors import DomainError, ValidationFailed
from app.services.core.validation import Errors
from .errors import error_response, flatten_messages, in_words, summary

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
MAX_BODY_BYTES = 256 * 1024
PAGE_SIZE = 25
MAX_PAGE_SIZE = 200
MAX_PAGE = 100_000
# a list query's bounds (documented in app/api/openapi.list_arguments)
MAX_FILTERS = 10
MAX_IN_VALUES = 50
LIST_ARGUMENTS = frozenset({"filters", "order_column", "order_direction", "page", "page_size",
                            "columns", "keys", "select_columns"})
# ``?q=`` arguments FAB reads, by endpoint: it ignores any other (a typo would go unnoticed)
KNOWN_ARGUMENTS = {"get_list": (LIST_ARGUMENTS, "a list"),
                   "info": (frozenset({"keys", "add_columns", "edit_columns"}), "_info")}


# --- request helpers ----------------------------------------------------------------------

class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


def json_body(*, required: bool = False) -> dict:
    """The request's JSON object (``{}`` when there is no body and none is required).
    Malformed JSON or a non-object raises ValidationFailed naming ``body`` (422)."""
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raw = None
    # a body without Content-Length is cut at max_content_length (set by the guard below)
    if raw is None or len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Request body larger than {MAX_BODY_BYTES} bytes",
                              errors={"body": ["is too large"]})
    if not raw or not raw.strip():
        if required:
            raise ValidationFailed.field("body", "Send a JSON object as the request body")
        return {}
    try:
        data = request.get_json(force=True, silent=False, cache=True)
    except BadRequest:
        raise ValidationFailed.field("body", "The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ValidationFailed.field("body", "The request body must be a JSON object")
    return data


def load(schema: Schema, data: dict | None = None, *, partial: bool = False) -> dict:
    """Validate ``data`` (default: the JSON body) with a marshmallow schema; its messages
    become a 422 ValidationFailed with dotted field names."""
    if data is None:
        data = json_body()
    try:
        return schema.load(data, partial=partial)
    except ValidationError as err:
        errors = in_words(flatten_messages(err.messages))
        raise ValidationFailed(summary(errors), errors=errors) from None


def current_actor() -> Actor:
    return Actor.for_user(g.user)


def domain_errors(fn: Callable) -> Callable:
    """Inside ``@safe``: a DomainError becomes its own status and body (and whatever the
    request had started is rolled back, so nothing is stored on an error)."""

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except DomainError as err:
            db.session.rollback()
            return self.domain_error(err)

    return wrapper


# --- the shared behaviour -------------------------------------------------------------------

class ApiMixin:
    """Error shape, CSRF guard for cookie-authenticated writes, actor helper."""

    allow_browser_login = True
    # FAB exempts API blueprints from CSRFProtect (token clients cannot send one);
    # _guard_cookie_writes puts the check back for requests that use the cookie.
    csrf_exempt = True

    @before_request
    def _guard_cookie_writes(self):
        if request.method in SAFE_METHODS:
            return None
        request.max_content_length = MAX_BODY_BYTES + 1  # also without a Content-Length
        if request.content_length and request.content_length > MAX_BODY_BYTES:
            return error_response(413, f"Request body larger than {MAX_BODY_BYTES} bytes",
                                  errors={"body": ["is too large"]})
        auth = request.headers.get("Authorization", "")
        if auth[:7].lower() == "bearer " and auth[7:].strip():
            token = auth[7:].strip()
            prefixes = current_app.config.get("FAB_API_KEY_PREFIXES", ["sst_"])
            if current_app.config.get("FAB_API_KEY_ENABLED") and token.startswith(tuple(prefixes)):
                return None  # FAB's @protect validates the key (and then ignores the cookie)
            # A JWT: verify it now, so that a bogus token next to a session cookie cannot
            # ride on the cookie (verification sets g.user to the token's user).
            verify_jwt_in_request()
            return None
        if not current_user.is_authenticated:
            return None  # anonymous: @protect answers 401
        try:
            csrf.protect()
        except CSRFError as err:
            headers = ", ".join(current_app.config.get("WTF_CSRF_HEADERS", ["X-CSRFToken"]))
            return error_response(
                400, f"CSRF check failed: {err.description} A request signed in with the "
                     f"session cookie must send the page's CSRF token in the {headers} header "
                     "(or use a JWT / API key instead of the cookie).",
                code="csrf_failed", errors={"X-CSRFToken": [str(err.description)]})
        return None

    # FAB's response helpers, in the common error body -----------------------------------
    def response_400(self, message: str | None = None):
        message = message or "Arguments are not correct"
        errors = {"q": [str(message)]} if request.method == "GET" else {}
        return error_response(400, message, "bad_request", errors)

    def response_401(self):
        return error_response(401, "Not authenticated: sign in, or send a JWT or API key",
                              "unauthorized")

    def response_403(self):
        return error_response(403, "Your role does not allow this", "forbidden")

    def response_404(self):
        return error_response(404, "Not found", "not_found")

    def response_422(self, message: Any = None):
        return error_response(422, message or "Could not process entity", "validation_failed")

    def response_500(self, message: str | None = None):
        # FAB's @safe turns every exception into a 500; a domain error raised inside
        # FAB's own handlers (a list, a show) keeps its status and body instead.
        err = sys.exc_info()[1]
        if isinstance(err, DomainError):
            db.session.rollback()
            return self.domain_error(err)
        return error_response(500, message or "Internal error", "internal_error")

    def domain_error(self, err: DomainError):
        return error_response(err.status, err.message, err.code, err.errors)

    @staticmethod
    def actor() -> Actor:
        return current_actor()


class WaybillBaseApi(ApiMixin, BaseApi):
    """A custom (model-less) JSON API."""


class WaybillInterface(SQLAInterface):
    """SQLAInterface whose list count stops at OMS_LIST_COUNT_CAP rows (counting a million
    orders on every page is waste); ``g.waybill_count_capped`` tells the API."""

    count_cap: bool = False

    def __init__(self, obj, session=None, *, count_cap: bool = False):
        super().__init__(obj, session=session)
        self.count_cap = count_cap

    def query_count(self, query, filters=None, select_columns=None) -> int:
        if not self.count_cap:
            return super().query_count(query, filters, select_columns)
        cap = int(current_app.config.get("OMS_LIST_COUNT_CAP", 10000))
        inner = self._apply_inner_all(query, filters, select_columns=select_columns,
                                      aliases_mapping={})
        count = inner.limit(cap + 1).count()
        g.waybill_count_capped = count > cap
        return min(count, cap)


class SchemaConverter(Model2SchemaConverter):
    """FAB's model-to-schema converter, but foreign-key columns (``channel_id``) may be
    listed too (marshmallow-sqlalchemy leaves them out unless ``include_fk``)."""

    def _meta_schema_factory(self, columns, model, class_mixin, parent_schema_name=None):
        options = dict(model=model, load_instance=True, include_fk=True,
                       sqla_session=current_app.appbuilder.session,
                       parent_schema_name=parent_schema_name)
        if columns:
            options["fields"] = columns
        meta = type("Meta", (), options)
        return type("MetaSchema", (SQLAlchemyAutoSchema, class_mixin), {"Meta": meta})


class WaybillModelApi(ApiMixin, ModelRestApi):
    """A model's REST resource. Subclasses set ``search_operators`` ({column: [operator,
    ...]}) instead of ``search_columns``: only those columns and operators may be used in
    ``?q=(filters:...)``; the rest answer 400."""

    page_size = PAGE_SIZE
    max_page_size = MAX_PAGE_SIZE
    model2schemaconverter = SchemaConverter
    search_operators: dict[str, list[str]] = {}
    # A custom GET /<pk>: load_detail(pk) returns the item (with its children eagerly
    # loaded) and detail_schema dumps it.
    detail_schema: Schema | None = None

    def __init__(self):
        if not self.search_operators:  # FAB would allow every operator on every column
            raise TypeError(f"{type(self).__name__} must declare search_operators")
        self.search_columns = list(self.search_operators)
        if self.detail_schema is not None:
            self.show_model_schema = self.detail_schema
            self.show_columns = list(self.detail_schema.fields)
        elif self.show_columns is None:
            # FAB's default is every column, relations dumped whole (a related channel
            # would carry its encrypted credentials): show what the list shows instead.
            self.show_columns = list(self.list_columns)
        super().__init__()
        for column, ops in self.search_operators.items():
            allowed = [f for f in self._filters._search_filters.get(column, [])
                       if f.arg_name in ops]
            if len(allowed) != len(set(ops)):
                raise TypeError(f"{type(self).__name__}: {column} does not support all of {ops}")
            self._filters._search_filters[column] = allowed

    def _handle_filters_args(self, rison_args: dict):
        """FAB fills one Filters object shared by every request of this API (clear, add,
        join): two threads could swap filters. Each request gets its own copy here."""
        filters = copy.copy(self._filters)
        filters.clear_filters()  # new, empty lists on the copy; _search_filters shared
        filters.rest_add_filters([self._typed_filter(f) for f in rison_args.get("filters", [])])
        return filters.get_joined_filters(self._base_filters)

    @before_request(only=["get_list", "get", "info"])
    def _check_rison(self):
        """Check ``?q=`` before FAB runs it: prison (FAB's Rison parser) recurses without
        end on input like ``((((``; a page or page size out of range, or a filter value
        that is not a number where the column holds numbers (an id of 2**31), would reach
        the database and fail there. Each answers 400/422 naming the argument."""
        value = request.args.get("q")
        if not value:
            return None
        try:
            args = prison.loads(value)
        except prison.decoder.ParserException:
            try:
                args = json.loads(value)  # FAB reads JSON too
            except (ValueError, RecursionError):
                return None  # FAB answers 400
        except Exception:  # RecursionError and friends
            return error_response(400, "Not a valid Rison argument", "bad_request",
                                  {"q": ["is not valid Rison"]})
        try:
            request_guard.check_parsed(args, "q")
            if isinstance(args, dict):
                unknown = self._unknown_filter(args.get("filters"))
                if unknown:
                    return error_response(400, unknown, "bad_request", {"q": [unknown]})
                self._check_list_args(args)
        except DomainError as err:
            return self.domain_error(err)
        if isinstance(args, dict) and value.lstrip()[:1] in ("{", "["):
            _pass_json_through(value)
        return None

    def _unknown_filter(self, filters: Any) -> str | None:
        """A filter on a column or with an operator this list does not offer (FAB would
        drop an unknown operator silently and list everything)."""
        if request.endpoint and not request.endpoint.endswith(".get_list"):
            return None
        for flt in filters if isinstance(filters, list) else []:
            if not isinstance(flt, dict):
                continue
            column, operator = flt.get("col"), flt.get("opr")
            if not isinstance(column, str) or column not in self.search_operators:
                return f"The list cannot be filtered by {column!r}"
            if operator not in self.search_operators[column]:
                return f"{column} cannot be filtered with the operator {operator!r}"
        return None

    def _check_list_args(self, args: dict) -> None:
        errors = Errors()
        endpoint = (request.endpoint or "").rsplit(".", 1)[-1]
        if endpoint in KNOWN_ARGUMENTS:
            # FAB would ignore an argument it does not know (a typo in "filters" lists all)
            known, what = KNOWN_ARGUMENTS[endpoint]
            for key in sorted(set(args) - known, key=str):
                errors.add(f"q.{str(key)[:40]}", f"is not an argument of {what}")
        if endpoint == "get_list":
            columns = args.get("columns")
            for column in columns if isinstance(columns, list) else []:
                if column not in self.list_columns:
                    errors.add("q.columns", f"{str(column)[:40]!r} is not a column of this list")
                    break
        # page_size above max_page_size is cut to it by FAB (documented); absurd ones are not
        for key, low, high in (("page", 0, MAX_PAGE), ("page_size", 1, MAX_PAGE)):
            if key in args:
                try:
                    validation.integer(args[key], f"q.{key}", minimum=low, maximum=high)
                except ValidationFailed as err:
                    errors.merge(err)
        filters = args.get("filters")
        if isinstance(filters, list):
            if len(filters) > MAX_FILTERS:
                errors.add("q.filters", f"at most {MAX_FILTERS} filters")
            for index, flt in enumerate(filters):
                if isinstance(flt, dict) and flt.get("opr") in ("in", "not_in") \
                        and not isinstance(flt.get("value"), list):
                    errors.add(f"q.filters.{index}.value", "must be a list for 'in'")
                    continue
                if isinstance(flt, dict) and isinstance(flt.get("value"), list) \
                        and len(flt["value"]) > MAX_IN_VALUES:
                    errors.add(f"q.filters.{index}.value", f"at most {MAX_IN_VALUES} values")
                    continue
                if isinstance(flt, dict) and isinstance(flt.get("col"), str) \
                        and flt["col"] in self.search_columns \
                        and self.datamodel.is_boolean(flt["col"]) \
                        and not isinstance(flt.get("value"), bool):
                    # PostgreSQL cannot compare a boolean with a number (a 500 otherwise)
                    errors.add(f"q.filters.{index}.value", "must be true or false")
                    continue
                if isinstance(flt, dict) and self._holds_numbers(flt.get("col")):
                    values = flt.get("value")
                    for item in values if isinstance(values, list) else [values]:
                        try:
                            validation.integer(item, f"q.filters.{index}.value")
                        except ValidationFailed as err:
                            errors.merge(err)
                            break
        errors.raise_if_any("This list cannot be read that way")

    def _typed_filter(self, flt: Any) -> Any:
        """A date filter's value as an aware UTC datetime (UTCDateTime refuses naive
        ones; FAB would parse "…+12:42" to one)."""
        if isinstance(flt, dict) and isinstance(flt.get("col"), str) \
                and flt["col"] in self.search_columns and self.datamodel.is_datetime(flt["col"]):
            from ..views.base import _utc_datetime

            value = _utc_datetime(flt.get("value"))
            if value is None:
                raise ValidationFailed.field("q.filters", "A date filter needs a date and time "
                                                          "(e.g. 2026-01-31T12:00:00Z)")
            return {**flt, "value": value}
        return flt

    def _holds_numbers(self, column: Any) -> bool:
        """Does a filter on this column compare numbers (an integer column, or a relation,
        which FAB filters by the related row's id)?"""
        if not isinstance(column, str) or column not in self.search_columns:
            return False
        datamodel = self.datamodel
        return bool(datamodel.is_relation(column) or datamodel.is_integer(column))

    def load_detail(self, pk: int):  # pragma: no cover - overridden where detail_schema is
        raise NotImplementedError

    def get_headless(self, pk, **kwargs):
        if self.detail_schema is None:
            return super().get_headless(pk, **kwargs)
        item = self.load_detail(int(pk))
        if item is None:
            return self.response_404()
        return self.response(200, id=int(pk), result=self.detail_schema.dump(item))

    def pre_get_list(self, data: dict) -> None:
        if g.get("waybill_count_capped"):
            data["count_capped"] = True


class ReadOnlyApi(WaybillModelApi):
    """Read-only through the generic endpoints; state changes only through the action
    endpoints that call the services."""

    exclude_route_methods = {"post", "put", "delete"}

    def _get_fields_info(self, cols, model_schema, filter_rel_fields, **kwargs):
        return []  # nothing can be added or edited here: _info lists no form fields


class ServiceWriteApi(WaybillModelApi):
    """Reference data whose generic POST/PUT/DELETE call a service (validation, audit,
    encryption) — FAB's datamodel add/edit/delete is never used.

    Subclasses set ``add_model_schema`` / ``edit_model_schema`` (input, load-only) and
    implement ``create(values)``, ``update(pk, values)`` and, unless ``delete`` is
    excluded, ``remove(pk)``; results are dumped with ``detail_schema`` (or the show schema).
    """

    def __init__(self):
        if self.add_columns is None and self.add_model_schema is not None:
            self.add_columns = [n for n, f in self.add_model_schema.fields.items()
                                if n not in self.info_exclude]
        if self.edit_columns is None and self.edit_model_schema is not None:
            self.edit_columns = [n for n, f in self.edit_model_schema.fields.items()
                                 if n not in self.info_exclude]
        super().__init__()

    # Input fields _info does not describe (write-only secrets: documented in OpenAPI).
    info_exclude: tuple[str, ...] = ()

    def create(self, values: dict):  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, pk: int, values: dict):  # pragma: no cover - abstract
        raise NotImplementedError

    def remove(self, pk: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _dump(self, item) -> dict:
        schema = self.detail_schema or self.show_model_schema
        return schema.dump(item)

    def _call(self, fn: Callable[[], Any]):
        try:
            return fn(), None
        except DomainError as err:
            db.session.rollback()
            return None, self.domain_error(err)

    def post_headless(self):
        item, error = self._call(lambda: self.create(load(self.add_model_schema)))
        if error is not None:
            return error
        return self.response(201, id=item.id, result=self._dump(item))

    def put_headless(self, pk):
        pk = _int_pk(pk)
        if pk is None:
            return self.response_404()
        item, error = self._call(
            lambda: self.update(pk, load(self.edit_model_schema, partial=True)))
        if error is not None:
            return error
        return self.response(200, id=item.id, result=self._dump(item))

    def delete_headless(self, pk):
        pk = _int_pk(pk)
        if pk is None:
            return self.response_404()
        _, error = self._call(lambda: self.remove(pk))
        if error is not None:
            return error
        return self.response(200, message="Deleted")


def _pass_json_through(value: str) -> None:
    """FAB reads a JSON ``?q=`` by URL-decoding it a second time (``parse_qs``): a ``+``
    became a space, ``%41`` an ``A`` and an ``&`` cut the value. Escape those three so the
    second decoding gives back exactly what the client sent."""
    escaped = value.replace("%", "%25").replace("&", "%26").replace("+", "%2B")
    if escaped != value:
        args = request.args.copy()
        args["q"] = escaped
        request.args = ImmutableMultiDict(args)


def _int_pk(pk) -> int | None:
    try:
        return int(pk)
    except (TypeError, ValueError):
        return None


# --- OpenAPI for action endpoints ------------------------------------------------------------

def documented(summary: str, *, method: str = "post", body: str | None = None,
               result: str | None = None, path: tuple[str, ...] = ("pk",), ok: int = 200,
               errors: tuple[int, ...] = (401, 403, 404, 409, 422)):
    """Give an action endpoint the YAML docstring FAB turns into its OpenAPI operation
    (``body``/``result``: component schema names)."""

    def wrap(fn):
        lines = [summary, "---", f"{method}:", f"  summary: {json.dumps(summary)}"]
        if path:
            lines.append("  parameters:")
            for name in path:
                lines += [f"  - in: path", f"    name: {name}", "    required: true",
                          "    schema:", "      type: integer"]
        if body:
            lines += ["  requestBody:", "    content:", "      application/json:",
                      "        schema:", f"          $ref: '#/components/schemas/{body}'"]
        lines += ["  responses:", f"    {ok}:", "      description: Done"]
        if result:
            lines += ["      content:", "        application/json:", "          schema:",
                      "            type: object", "            properties:",
                      "              id:", "                type: integer",
                      "              result:",
                      f"                $ref: '#/components/schemas/{result}'"]
        for status in errors:
            if status == 409:
                lines += ["    409:", "      description: Invalid transition or stale version"]
            else:
                lines += [f"    {status}:", f"      $ref: '#/components/responses/{status}'"]
        fn.__doc__ = "\n".join(lines)
        return fn

    return wrap


class SecretsWriteOnlyApi(ServiceWriteApi):
    """A connector's reference data whose secrets (``credentials``, ``webhook_secret``) are
    write-only: taken out of the body and given to the service apart, never answered.
    Subclasses set ``save`` to the service: ``save(session, values, actor, pk, **secrets)``."""

    SECRET_FIELDS = ("credentials", "webhook_secret")
    info_exclude = SECRET_FIELDS
    save: Callable[..., Any]

    def _save(self, values: dict, pk: int | None = None):
        secrets = {k: values.pop(k) for k in self.SECRET_FIELDS if k in values}
        return type(self).save(db.session, values, self.actor(), pk, **secrets)

    def create(self, values: dict):
        return self._save(values)

    def update(self, pk: int, values: dict):
        return self._save(values, pk)
