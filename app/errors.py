"""How domain errors reach people: JSON with the DESIGN.md error body under /api/,
an error page elsewhere (forms catch their own errors and flash them)."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request

from app.services.core.errors import DomainError


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/webhooks/")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(FileNotFoundError)
    def _missing_file(_err):
        # FAB's generic /download/<filename> route on every model view raises this for a
        # file that does not exist; Waybill stores no files, so it is simply not found.
        if wants_json():
            return jsonify({"message": "not found", "code": "not_found", "errors": {}}), 404
        return "Not found", 404

    @app.errorhandler(DomainError)
    def _domain_error(err: DomainError):
        if wants_json():
            return jsonify(err.to_dict()), err.status
        return render_template("oms/error.html", error=err,
                               base_template=app.appbuilder.base_template,
                               appbuilder=app.appbuilder), err.status
