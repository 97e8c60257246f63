"""Shared building blocks of the admin UI.

- ``EagerSQLAInterface``: FAB's SQLAInterface plus eager loading of the relations a list
  prints (no N+1, FAB_NOTES 3.4), row-level display functions (a cell may need two
  columns, e.g. total + currency), per-column custom filters, UTC-aware date filters and an
  optional cap on the list's count query (FAB_NOTES 3.3, ``OMS_LIST_COUNT_CAP``).
- ``ReadOnlyModelView``: list and show only; mutations go through services elsewhere.
- ``ServiceModelView``: reference data with FAB's add/edit forms, whose writes are routed
  through a service (validation, audit) instead of FAB's own ``datamodel.add/edit``.
- ``service_call``: run a service, flash its DomainError, report success.
"""
from __future__ import annotations

import logging
from datetime import datetime, time, timedelta, timezone
from typing import Callable, Iterable

from dateutil import parser as date_parser
from flask import current_app, flash, g, redirect, request, url_for
from flask_appbuilder import ModelView
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import SQLAFilterConverter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.widgets import ListWidget
from markupsafe import Markup
from sqlalchemy import exists, select
from sqlalchemy.orm import selectinload

from ..security.redirects import safe_next
from app.services.core.actor import Actor
from app.services.core.errors import DomainError
from .formatting import DASH

log = logging.getLogger(__name__)

LIST_WIDGET_TEMPLATE = "oms/widgets/list.html"


def current_actor() -> Actor:
    return Actor.for_user(g.user)


def flash_error(err: DomainError) -> None:
    flash(err.message, "danger")
    # A field error not already said in the message gets its own line (messages are
    # sentences: the field's name is in them, in words).
    for messages in (err.errors or {}).values():
        for message in messages:
            if message not in err.message:
                flash(message, "danger")


def form_error_status(err: DomainError) -> int:
    """HTTP status of a form page shown again with its errors: 409 for conflicts (stale
    version, not enough stock), 422 for anything else the user typed."""
    return 409 if err.status == 409 else 422


def service_call(fn: Callable, *args, success: str | Callable | None = None, **kwargs):
    """Call a service; on a DomainError flash it and return None (the service rolled back).
    On success flash ``success`` (a string, or a function of the result)."""
    try:
        result = fn(*args, **kwargs)
    except DomainError as err:
        flash_error(err)
        return None
    if success:
        flash(success(result) if callable(success) else success, "success")
    return result if result is not None else True


def can(permission: str, resource: str) -> bool:
    """Does the signed-in user hold ``can_<permission>`` on a resource (for buttons)."""
    return bool(current_app.appbuilder.sm.has_access(f"can_{permission}", resource))


def redirect_back(default: str):
    """Redirect to a local ``next`` (form field or query argument) or to ``default``."""
    target = request.form.get("next") or request.args.get("next")
    return redirect(safe_next(target, default))


# --- form fields ----------------------------------------------------------------------

def select_field(label: str, pairs, **kwargs):
    """A SelectField of (value, label) pairs (as WTForms choice objects where available)."""
    from wtforms import SelectField

    try:
        from wtforms.fields.choices import SelectChoice
    except ImportError:  # WTForms < 3.3
        choices = list(pairs)
    else:
        choices = [SelectChoice(value, label) for value, label in pairs]
    return SelectField(label, choices=choices, **kwargs)


def checkbox(label: str, default: bool = True, **kwargs):
    """A BooleanField that may be left unticked (FAB makes NOT NULL columns required, and an
    unticked box sends nothing)."""
    from wtforms import BooleanField

    return BooleanField(label, default=default, **kwargs)


# --- filters ---------------------------------------------------------------------------

def _utc_datetime(value):
    """A filter value (text from the URL or a datetime) as an aware UTC datetime."""
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = date_parser.parse(str(value))
        except (ValueError, OverflowError, TypeError):
            return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


class FilterUTCAfter(BaseFilter):
    name = "On or after"
    arg_name = "utc_ge"

    def apply(self, query, value):
        value = _utc_datetime(value)
        if value is None:
            return query
        return query.filter(getattr(self.model, self.column_name) >= value)


class FilterUTCBefore(BaseFilter):
    name = "Before"
    arg_name = "utc_lt"

    def apply(self, query, value):
        value = _utc_datetime(value)
        if value is None:
            return query
        return query.filter(getattr(self.model, self.column_name) < value)


class FilterUTCOnDay(BaseFilter):
    name = "On day (UTC)"
    arg_name = "utc_day"

    def apply(self, query, value):
        value = _utc_datetime(value)
        if value is None:
            return query
        start = datetime.combine(value.date(), time(0), tzinfo=timezone.utc)
        column = getattr(self.model, self.column_name)
        return query.filter(column >= start, column < start + timedelta(days=1))


UTC_DATE_FILTERS = [FilterUTCOnDay, FilterUTCAfter, FilterUTCBefore]


class FilterChoiceEqual(BaseFilter):
    """Equality on a code column whose search field is a select of fixed choices."""

    name = "Is"
    arg_name = "is"

    def apply(self, query, value):
        if value in (None, ""):
            return query
        return query.filter(getattr(self.model, self.column_name) == value)


class FilterChoiceNotEqual(BaseFilter):
    name = "Is not"
    arg_name = "isnt"

    def apply(self, query, value):
        if value in (None, ""):
            return query
        return query.filter(getattr(self.model, self.column_name) != value)


class FilterOpenHoldReason(BaseFilter):
    """Orders having an open hold with this reason ("*": any reason). Uses the
    (reason, released_at) index of order_holds through an EXISTS subquery."""

    name = "Has open hold"
    arg_name = "open_hold"

    def apply(self, query, value):
        from ..models import Order, OrderHold

        if value in (None, ""):
            return query
        condition = (OrderHold.order_id == Order.id) & OrderHold.released_at.is_(None)
        if value != "*":
            condition = condition & (OrderHold.reason == value)
        return query.filter(exists().where(condition))


class FilterProductSku(BaseFilter):
    """Rows of a product given by SKU (exact, or a prefix ending in '*')."""

    name = "SKU"
    arg_name = "sku"

    def apply(self, query, value):
        from ..models import Product, normalize_sku

        text = (value or "").strip()
        if not text:
            return query
        product_id = getattr(self.model, "product_id")
        if text.endswith("*"):
            prefix = normalize_sku(text[:-1]) or ""
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            ids = select(Product.id).where(Product.sku.like(escaped + "%", escape="\\"))
        else:
            ids = select(Product.id).where(Product.sku == normalize_sku(text))
        return query.filter(product_id.in_(ids))


class OmsFilterConverter(SQLAFilterConverter):
    """FAB's converter, plus per-column filters declared on the interface and UTC-aware
    date filters (FAB's own compare naive datetimes, which UTCDateTime refuses)."""

    def convert(self, col_name):
        custom = getattr(self.datamodel, "column_filters", {}).get(col_name)
        if custom is not None:
            return [f(col_name, self.datamodel) for f in custom]
        if self.datamodel.is_datetime(col_name):
            return [f(col_name, self.datamodel) for f in UTC_DATE_FILTERS]
        return super().convert(col_name)


# --- the interface ---------------------------------------------------------------------

class EagerSQLAInterface(SQLAInterface):
    filter_converter_class = OmsFilterConverter

    def __init__(self, obj, session=None, *, eager: Iterable[str] = (),
                 display: dict[str, Callable] | None = None,
                 column_filters: dict[str, list] | None = None, count_cap: bool = False):
        self.eager = tuple(eager)
        self.display = dict(display or {})
        self.column_filters = dict(column_filters or {})
        self.count_cap = count_cap
        super().__init__(obj, session=session)

    def _loader_options(self):
        options = []
        for path in self.eager:
            model, option = self.obj, None
            for name in path.split("."):
                attribute = getattr(model, name)
                option = selectinload(attribute) if option is None else option.selectinload(attribute)
                model = attribute.property.mapper.class_
            options.append(option)
        return options

    def apply_all(self, query, *args, **kwargs):
        query = super().apply_all(query, *args, **kwargs)
        return query.options(*self._loader_options()) if self.eager else query

    def query_count(self, query, filters=None, select_columns=None) -> int:
        """FAB's count, or, with ``count_cap``, a count that stops after the cap + 1 rows
        (the list then says "more than N")."""
        if not self.count_cap:
            return super().query_count(query, filters, select_columns)
        cap = int(current_app.config.get("OMS_LIST_COUNT_CAP") or 0)
        inner = self._apply_inner_all(query, filters, select_columns=select_columns,
                                      aliases_mapping={})
        inner = inner.order_by(None)
        if cap > 0:
            inner = inner.limit(cap + 1)
        return inner.count()

    def _value(self, item, col):
        if col in self.display:
            return self.display[col](item)
        value = self._get_attr_value(item, col)
        return DASH if value is None else value

    def get_values(self, lst, list_columns):
        for item in lst:
            yield {col: self._value(item, col) for col in list_columns}

    def get_values_item(self, item, show_columns):
        return [self._value(item, col) for col in show_columns]


# --- views -----------------------------------------------------------------------------

class OmsListWidget(ListWidget):
    template = LIST_WIDGET_TEMPLATE


class OmsModelView(ModelView):
    """Common defaults: our list widget (count cap aware), 50 rows a page."""

    page_size = 50
    list_widget = OmsListWidget
    list_template = "oms/model/list.html"
    show_template = "oms/model/show.html"


class ReadOnlyModelView(OmsModelView):
    include_route_methods = {"list", "show"}


class ServiceModelView(OmsModelView):
    """FAB forms for reference data, writes through a service.

    Subclasses implement ``save(values, pk)`` (returns the saved item) and, when deleting
    is offered, ``remove(pk)``; both call services and may raise DomainError, which is
    shown on the form and stores nothing.
    """

    secret_fields: tuple[str, ...] = ()  # never prefilled, never shown back

    def save(self, form, pk):  # pragma: no cover - abstract
        raise NotImplementedError

    def remove(self, pk):  # pragma: no cover - abstract
        raise NotImplementedError

    def form_values(self, form, columns) -> dict:
        return {name: form[name].data for name in columns if name in form}

    def _clear_secrets(self, form):
        for name in self.secret_fields:
            if name in form:
                form[name].data = None
                form[name].raw_data = []

    def _show_form_errors(self, form, err: DomainError):
        flash_error(err)
        for field, messages in (err.errors or {}).items():
            name = field.split(".")[0]
            if name in form:
                form[name].errors = list(form[name].errors or []) + list(messages)

    def _add(self):
        form = self.add_form.refresh()
        if request.method == "POST":
            if form.validate():
                try:
                    item = self.save(form, None)
                except DomainError as err:
                    self._show_form_errors(form, err)
                else:
                    flash(f"{self.describe(item)} added", "success")
                    return None
            self._clear_secrets(form)
        else:
            self.update_redirect()
        return self._get_add_widget(form=form)

    def _edit(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            from flask import abort

            abort(404)
        pk = self.datamodel.get_pk_value(item)
        if request.method == "POST":
            form = self.edit_form.refresh(request.form)
            form._id = pk
            if form.validate():
                try:
                    item = self.save(form, pk)
                except DomainError as err:
                    self._show_form_errors(form, err)
                else:
                    flash(f"{self.describe(item)} saved", "success")
                    return None
            self._clear_secrets(form)
        else:
            form = self.edit_form.refresh(obj=item)
            self._clear_secrets(form)
            self.prefill_form(form, pk)
            self.update_redirect()
        return self._get_edit_widget(form=form)

    def _delete(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            from flask import abort

            abort(404)
        label = self.describe(item)
        if service_call(self.remove, pk):
            flash(f"{label} deleted", "success")
        self.update_redirect()

    def describe(self, item) -> str:
        return f"{self.datamodel.model_name} {item!r}" if item is not None else self.datamodel.model_name


def link(endpoint: str, text, **values) -> Markup:
    return Markup('<a href="{}">{}</a>').format(url_for(endpoint, **values), text)


def safe_redirect_to(endpoint: str, **values):
    return redirect(url_for(endpoint, **values))
