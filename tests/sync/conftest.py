"""A channel sandbox over real HTTP on 127.0.0.1 plus the database fixtures: Waybill
channels pointed at it, products matching its catalog."""
import threading

import pytest
from werkzeug.serving import make_server

from connectors.sandbox import (
    DEFAULT_CATALOG, DEFAULT_CREDENTIALS, channel_base_urls, create_sandbox_app, start_sandbox,
)

TIME_SCALE = 0.01  # rate limits, Retry-After and backoff 100x shorter (client and sandbox)


@pytest.fixture(scope="session")
def _sandbox_server():
    sandbox_app = create_sandbox_app(seed=0)
    server, thread, root = start_sandbox(sandbox_app)
    yield sandbox_app, root
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def sandbox(_sandbox_server, app):
    sandbox_app, root = _sandbox_server
    sandbox_app.state.reset(seed=7, catalog=DEFAULT_CATALOG, time_scale=TIME_SCALE)
    # Small pages: many requests, so injected faults and paging are really exercised.
    app.config["OMS_CONNECTOR_OPTIONS"] = {"time_scale": TIME_SCALE, "page_size": 20}
    yield sandbox_app.state, root
    app.config["OMS_CONNECTOR_OPTIONS"] = {}


@pytest.fixture
def sandbox_channels(sandbox, make, session):
    """One Waybill channel per sandbox API, and the catalog's products in stock."""
    from app.services.channels import config as channels

    _state, root = sandbox
    warehouse = make.warehouse("EWR", "US")
    for item in DEFAULT_CATALOG:
        make.product(item["sku"], stock={warehouse: 100000}, name=item["name"])
    urls = channel_base_urls(root)
    result = {}
    for kind in ("shopify", "woocommerce", "amazon"):
        result[kind] = channels.save_channel(
            session, {"code": f"sb-{kind}", "name": f"Sandbox {kind}", "kind": kind,
                      "base_url": urls[kind], "backfill_days": 365},
            make.actor, credentials=dict(DEFAULT_CREDENTIALS[kind]),
            webhook_secret=f"secret-{kind}")
    return result


@pytest.fixture(scope="session")
def waybill_server(app):
    """The Waybill app served over real HTTP on 127.0.0.1 (same database as the test)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
