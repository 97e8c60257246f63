"""Fixtures for connector tests, reusable by anyone who needs a channel sandbox.

``sandbox``: the root URL (``http://127.0.0.1:<free port>``) of a sandbox running in a background
thread for the whole session, reset before each test (seed 0, default catalog, no orders, no
faults, time scale 1). Channel base URLs: ``{sandbox}/shopify/demo``, ``{sandbox}/woocommerce/demo``,
``{sandbox}/amazon/na``; credentials: ``connectors.sandbox.DEFAULT_CREDENTIALS``.
``sandbox_state``: the same sandbox's in-memory state (for direct checks).
``sandbox_control``: ``sandbox_control("orders", channel="shopify", count=5)`` POSTs to ``/_sandbox/<path>``.
"""
from __future__ import annotations

import pytest
import requests

from connectors.sandbox import DEFAULT_CATALOG, create_sandbox_app, start_sandbox


@pytest.fixture(autouse=True)
def _app_context():
    """Connectors never touch the database: no app context, no table clean-up here."""
    yield


@pytest.fixture(scope="session")
def _sandbox_server():
    app = create_sandbox_app(seed=0)
    server, thread, root = start_sandbox(app)
    yield app, root
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def sandbox_state(_sandbox_server):
    app, _ = _sandbox_server
    return app.state


@pytest.fixture
def sandbox(_sandbox_server) -> str:
    app, root = _sandbox_server
    app.state.reset(seed=0, catalog=DEFAULT_CATALOG, time_scale=1.0)
    return root


@pytest.fixture
def sandbox_control(sandbox):
    def control(path: str, **body):
        response = requests.post(f"{sandbox}/_sandbox/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    return control
