"""What reading Amazon orders costs in SP-API requests, Orders API 2026-01-01 against v0.

    .venv/bin/python bench/amazon_versions.py [--orders 300]

Both connectors read the same orders from a sandbox (127.0.0.1, time scale 0.002 so rate limits
do not dominate the wall time): 2026-01-01 needs a searchOrders page per 100 orders, items,
buyer and address included; v0 needs getOrders pages plus getOrderItems, getOrderAddress and
getOrderBuyerInfo per order (one Restricted Data Token for all). Against Amazon the request
count is what matters: getOrderItems and the restricted calls run at 0.5 requests a second.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors import build_connector  # noqa: E402
from connectors.base import iter_pages  # noqa: E402
from connectors.sandbox import DEFAULT_CREDENTIALS, create_sandbox_app, start_sandbox  # noqa: E402

SCALE = 0.002


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=300)
    args = parser.parse_args()
    app = create_sandbox_app(seed=3)
    server, _thread, root = start_sandbox(app)
    app.state.set_time_scale(SCALE)
    app.state.create_orders("amazon", args.orders, "na")
    print(f"{platform.node()} {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    try:
        for version in ("2026-01-01", "v0"):
            before = app.state.request_counts["amazon"]
            started = time.monotonic()
            connector = build_connector("amazon", f"{root}/amazon/na", DEFAULT_CREDENTIALS["amazon"],
                                        api_version=version, time_scale=SCALE)
            count = sum(len(page.orders) for page in iter_pages(connector, datetime(2000, 1, 1, tzinfo=timezone.utc)))
            print(f"{version:>10}: {count} orders, {app.state.request_counts['amazon'] - before} SP-API requests, "
                  f"{time.monotonic() - started:.1f} s (time scale {SCALE}), RDTs {connector.rdt.issued}")
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
