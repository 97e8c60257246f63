"""Local simulator of the Shopify Admin API (REST orders, GraphQL products), WooCommerce REST v3 and
Amazon SP-API (Orders 2026-01-01 and v0, Tokens, Listings Items) APIs.

    from connectors.sandbox import create_sandbox_app, run_sandbox
    app = create_sandbox_app(catalog=[{"sku": "A-1", "name": "Thing", "price": "9.99"}], seed=42)
    run_sandbox("127.0.0.1", 8099)          # or: python -m connectors.sandbox --port 8099

Credentials it accepts: :data:`DEFAULT_CREDENTIALS` (also in ``GET /_sandbox/state``).
Channel base URLs for the connectors: ``http://HOST:PORT/shopify/<shop>``,
``http://HOST:PORT/woocommerce/<shop>``, ``http://HOST:PORT/amazon/<region>`` (na, eu, fe).
"""
from __future__ import annotations

import logging
import threading
from typing import Optional

from werkzeug.serving import BaseWSGIServer, make_server

from .app import SandboxApp, create_sandbox_app
from .carriers import CARRIER_CREDENTIALS
from .state import DEFAULT_CATALOG, DEFAULT_CREDENTIALS, SandboxState

__all__ = ["create_sandbox_app", "run_sandbox", "start_sandbox", "SandboxApp", "SandboxState",
           "DEFAULT_CATALOG", "DEFAULT_CREDENTIALS", "CARRIER_CREDENTIALS", "channel_base_urls", "carrier_base_urls"]


def channel_base_urls(root: str, shop: str = "demo", region: str = "na") -> dict[str, str]:
    """Connector base URLs for a sandbox running at ``root`` (e.g. ``http://127.0.0.1:8099``)."""
    root = root.rstrip("/")
    return {"shopify": f"{root}/shopify/{shop}", "woocommerce": f"{root}/woocommerce/{shop}",
            "amazon": f"{root}/amazon/{region}"}


def carrier_base_urls(root: str) -> dict[str, str]:
    """Carrier account base URLs for a sandbox running at ``root``."""
    root = root.rstrip("/")
    return {kind: f"{root}/{kind}" for kind in ("ups", "fedex", "usps", "dhl", "easypost")}


# The shop (Amazon: region) each channel's demo store lives in.
DEMO_SHOPS = {"shopify": "demo", "woocommerce": "demo", "amazon": "eu"}


# The orders a shop already has when the sandbox starts were placed over these last days;
# every order that arrives later (trickle, control API) was placed just now.
BACKLOG_DAYS = 3


def run_sandbox(host: str = "127.0.0.1", port: int = 8099, catalog: Optional[list[dict]] = None, *,
                seed: int = 0, orders: int = 0, trickle: float = 0) -> None:
    """Serve the sandbox until interrupted (what ``flask oms sandbox --port`` calls).

    ``orders``: create that many orders per channel at start (a backlog of the last
    BACKLOG_DAYS days). ``trickle``: every that many
    seconds a new order arrives on each channel (and now and then an earlier one is paid,
    updated or cancelled), so a demo keeps moving while someone looks around.
    """
    app = create_sandbox_app(catalog=catalog, seed=seed)
    if orders:
        for channel, shop in DEMO_SHOPS.items():
            app.state.create_orders(channel, orders, shop, backlog_days=BACKLOG_DAYS)
    if trickle > 0:
        threading.Thread(target=_trickle, args=(app.state, trickle), name="sandbox-trickle",
                         daemon=True).start()
        # parcels move too: an hour of the carriers' clock every 5 seconds, webhooks as they move
        app.carriers.state.clock.set_speed(720.0)
        app.carriers.start_ticker()
    server = make_server(host, port, app, threaded=True)
    logging.getLogger(__name__).info("Waybill sandbox on http://%s:%s", host, server.port)
    print(f"Waybill sandbox on http://{host}:{server.port}  (control API: /_sandbox/state)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _trickle(state: SandboxState, every: float) -> None:
    stop = threading.Event()
    rounds = 0
    while not stop.wait(every):
        rounds += 1
        for channel, shop in DEMO_SHOPS.items():
            try:
                state.create_orders(channel, 1, shop)
                if rounds % 4 == 0:
                    state.update_orders(channel, count=1, shop=shop, action="random")
            except Exception:  # noqa: BLE001 — a demo generator never stops the server
                logging.getLogger(__name__).exception("sandbox trickle failed")


def start_sandbox(app: Optional[SandboxApp] = None, host: str = "127.0.0.1",
                  port: int = 0) -> tuple[BaseWSGIServer, threading.Thread, str]:
    """Start a sandbox in a daemon thread (port 0 = a free port). Returns (server, thread, root URL);
    stop it with ``server.shutdown()``."""
    app = app or create_sandbox_app()
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="waybill-sandbox", daemon=True)
    thread.start()
    return server, thread, f"http://{host}:{server.port}"
