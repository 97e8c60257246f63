"""Returns tests: a shipped order of two lines (SKU-A 2 × 30.00, SKU-B 1 × 40.00) with an
order-level discount of 10.00, tax 6.00 + 4.00 and shipping 8.00 (paid 108.00)."""
from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from app.services.core import settings
from app.services.fulfilment import shipments
from tests.api.conftest import _jwt_cache, api, jwt_headers  # noqa: F401 - fixtures


@pytest.fixture
def shipped(session, make, actor):
    wh = make.warehouse("WH1")
    pa = make.product("SKU-A", stock={wh: 2})
    pb = make.product("SKU-B", stock={wh: 1})
    channel = make.channel("shop")
    order = make.order(channel, [("SKU-A", 2, "30.00"), ("SKU-B", 1, "40.00")])
    a, b = order.lines
    a.tax, b.tax = Decimal("6.00"), Decimal("4.00")
    order.discount_total, order.tax_total, order.shipping_total = Decimal("10"), Decimal("10"), Decimal("8")
    order.total = Decimal("108.00")
    session.commit()
    staff = actor("warehouse")
    shipments.start_picking(session, order.id, staff)
    shipments.mark_packed(session, order.id, staff)
    shipments.ship(session, order.id, staff, carrier="ups", tracking_number="1ZTEST")
    return SimpleNamespace(order=order, order_id=order.id, a=a, b=b, wh=wh, pa=pa, pb=pb, channel=channel)


@pytest.fixture
def policy_set(session, actor):
    def set_(**values):
        for key, value in values.items():
            settings.set_value(session, key, value, actor("admin"))
        session.commit()
    return set_


@pytest.fixture
def label_carrier(session, actor, app, monkeypatch):
    """A UPS account on the carrier sandbox (tests/carriers/conftest.py's server): return
    labels are bought from it."""
    from connectors.sandbox import CARRIER_CREDENTIALS, carrier_base_urls
    from app.services.fulfilment import carriers
    from tests.carriers.conftest import CarrierSandbox

    app_, root = _carrier_server_root()
    app_.carriers.state.reset(seed=0)
    app_.carriers.state.exception_rate = 0.0
    monkeypatch.setitem(app.config, "OMS_CONNECTOR_OPTIONS", {"time_scale": 0.001})
    creds = dict(CARRIER_CREDENTIALS["ups"])
    number = creds.pop("account_number")
    carriers.save_account(session, {"code": "ups-main", "name": "UPS", "kind": "ups",
                                    "base_url": carrier_base_urls(root)["ups"], "account_number": number},
                          actor(), credentials=creds, webhook_secret="ups-track-alert-credential")
    return CarrierSandbox(root, app_.carriers)


_SERVER = []


def _carrier_server_root():
    """One carrier sandbox for the returns tests (started at first use)."""
    if not _SERVER:
        from connectors.sandbox import create_sandbox_app, start_sandbox
        sandbox_app = create_sandbox_app(seed=0, time_scale=0.001)
        server, _thread, root = start_sandbox(sandbox_app)
        _SERVER.append((sandbox_app, root, server))
    return _SERVER[0][0], _SERVER[0][1]


def pytest_sessionfinish(session, exitstatus):
    for _app, _root, server in _SERVER:
        server.shutdown()
