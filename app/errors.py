"""How domain errors reach people: JSON with the DESIGN.md error body under /api/,
an error page elsewhere (forms catch their own errors and flash them)."""
from __future__ import annotations

import functools
import logging

from flask import Flask, abort, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, NotFound

from .extensions import db
from app.services.core.errors import DomainError


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/webhooks/")


def _files_not_found(view):
    """FAB's ``/<view>/download/<filename>`` serves uploads (Waybill stores none) and fails
    with an IndexError on a name it did not make (``x.csv``): any such name is not found.
    The original view still runs first, so its permission check still applies."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except (IndexError, FileNotFoundError):
            abort(404)

    return wrapper


log = logging.getLogger(__name__)

# What a person reads on an error page: a title and what to do next.
HTTP_ERROR_WORDS = {
    400: ("The request could not be understood",
          "The form or link sent something this page cannot use. Go back and try again."),
    403: ("You may not open this page",
          "Your role does not include it. Ask an admin if you need it."),
    404: ("Page not found",
          "There is nothing at this address: the link may be old or mistyped, or the record "
          "was removed."),
    405: ("Not allowed here", "This address does not accept that kind of request."),
    500: ("Something went wrong on our side",
          "The error was logged. Try again; if it happens again, tell an admin what you did."),
}


def register_error_handlers(app: Flask) -> None:
    """Error pages in the app's own layout (navbar, search, styles) for every HTTP error a
    person can meet, JSON for the API."""

    for code in HTTP_ERROR_WORDS:
        app.register_error_handler(code, _http_error)
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.endswith(".download"):
            app.view_functions[endpoint] = _files_not_found(view)

    @app.errorhandler(FileNotFoundError)
    def _missing_file(_err):
        # FAB's generic /download/<filename> route on every model view raises this for a
        # file that does not exist; Waybill stores no files, so it is simply not found.
        return _http_error(NotFound())

    @app.errorhandler(DomainError)
    def _domain_error(err: DomainError):
        if wants_json():
            return jsonify(err.to_dict()), err.status
        return render_template("oms/error.html", error=err,
                               base_template=app.appbuilder.base_template,
                               appbuilder=app.appbuilder), err.status


def _http_error(err):
    code = err.code if isinstance(err, HTTPException) and err.code else 500
    title, advice = HTTP_ERROR_WORDS.get(code, HTTP_ERROR_WORDS[500])
    if wants_json():
        return jsonify({"message": title, "code": _code_name(code), "errors": {}}), code
    try:
        if code >= 500:
            db.session.rollback()  # the failed request's transaction; the layout reads again
        return render_template("oms/http_error.html", status=code, title=title, advice=advice,
                               base_template=current_app.appbuilder.base_template,
                               appbuilder=current_app.appbuilder), code
    except Exception:  # noqa: BLE001 — the layout itself failed (e.g. no database): plain words
        log.exception("error page could not be rendered")
        return f"{code} {title}. {advice}", code, {"Content-Type": "text/plain; charset=utf-8"}


def _code_name(code: int) -> str:
    return {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"
            }.get(code, "server_error")
