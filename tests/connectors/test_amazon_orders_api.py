"""Amazon over real HTTP against the sandbox, which behaves like Amazon: the Orders API 2026-01-01
(default) with buyer and recipient only for the restricted role, pagination tokens that expire,
v0 with Restricted Data Tokens from the Tokens API, each version with its own rate limits."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from connectors import build_connector
from connectors.base import iter_pages
from connectors.sandbox import DEFAULT_CREDENTIALS

SINCE = datetime(2000, 1, 1, tzinfo=timezone.utc)
SCALE = 0.002


def _connector(sandbox, **options):
    options.setdefault("time_scale", SCALE)
    return build_connector("amazon", f"{sandbox}/amazon/na", DEFAULT_CREDENTIALS["amazon"], **options)


def _expected(sandbox_state):
    return sandbox_state.snapshot()["channels"]["amazon"]["na"]["orders"]


def _access_token(sandbox):
    creds = DEFAULT_CREDENTIALS["amazon"]
    response = requests.post(f"{sandbox}/amazon/auth/o2/token", data={
        "grant_type": "refresh_token", "refresh_token": creds["refresh_token"],
        "client_id": creds["client_id"], "client_secret": creds["client_secret"]}, timeout=10)
    return response.json()["access_token"]


def test_2026_is_the_default_and_reads_buyer_and_address_with_the_role(sandbox, sandbox_control, sandbox_state):
    sandbox_control("orders", channel="amazon", count=30)
    conn = _connector(sandbox)
    assert conn.api_version == "2026-01-01"
    orders = [o for page in iter_pages(conn, SINCE) for o in page.orders]
    expected = _expected(sandbox_state)
    assert sorted(o.external_id for o in orders) == sorted(expected)
    for order in orders:
        assert order.email == expected[order.external_id]["email"]
    ready = [o for o in orders if o.channel_status not in ("PENDING", "CANCELLED")]
    assert ready and all(o.shipping_address.line1 and o.customer_name for o in ready)
    assert all(o.ship_by is not None for o in orders)  # fulfillment.shipByWindow
    assert sandbox_state.request_counts["amazon"] < 30  # items are embedded: no call per order
    one = conn.fetch_order(ready[0].external_id)  # getOrder
    assert (one.email, one.shipping_address) == (ready[0].email, ready[0].shipping_address)


def test_2026_without_the_role_imports_no_pii(sandbox, sandbox_control, sandbox_state):
    sandbox_control("orders", channel="amazon", count=20)
    sandbox_control("config", amazon_pii_role=False)
    orders = [o for page in iter_pages(_connector(sandbox), SINCE) for o in page.orders]
    assert len(orders) == 20
    assert all(o.email is None and o.customer_name is None for o in orders)
    addressed = [o for o in orders if o.shipping_address is not None]
    assert addressed  # city, postcode and country are not restricted
    assert all(a.shipping_address.line1 is None and a.shipping_address.name is None and a.shipping_address.postcode
               for a in addressed)
    # and without includedData=BUYER,RECIPIENT there is none even with the role
    sandbox_control("config", amazon_pii_role=True)
    token = _access_token(sandbox)
    bare = requests.get(f"{sandbox}/amazon/na/orders/2026-01-01/orders", headers={"x-amz-access-token": token},
                        params={"lastUpdatedAfter": "2000-01-01T00:00:00Z", "includedData": "FULFILLMENT,PROCEEDS"},
                        timeout=10).json()["orders"]
    assert bare and not any("buyer" in o or "recipient" in o for o in bare)


def test_2026_paging_across_an_expired_pagination_token(sandbox, sandbox_control, sandbox_state):
    sandbox_control("orders", channel="amazon", count=9)
    conn = _connector(sandbox, page_size=2)
    first = conn.fetch_orders(SINCE)
    assert first.next_page
    sandbox_control("config", amazon_expire_pagination=True)  # 24 hours pass
    seen = [o.external_id for o in first.orders]
    page = first
    while page.next_page:
        page = conn.fetch_orders(SINCE, page.next_page)
        seen += [o.external_id for o in page.orders]
    assert conn.restarts == 1 and sandbox_state.amazon_expired_tokens_served == 1
    assert set(seen) == set(_expected(sandbox_state))  # nothing lost ...
    assert len(seen) == 9 + 2  # ... and the first page once more (the import makes it a no-op)


def test_2026_continuation_must_repeat_the_first_requests_parameters(sandbox, sandbox_control):
    sandbox_control("orders", channel="amazon", count=5)
    token = _access_token(sandbox)
    url = f"{sandbox}/amazon/na/orders/2026-01-01/orders"
    params = {"lastUpdatedAfter": "2000-01-01T00:00:00Z", "maxResultsPerPage": 2, "includedData": "FULFILLMENT"}
    first = requests.get(url, headers={"x-amz-access-token": token}, params=params, timeout=10).json()
    next_token = first["pagination"]["nextToken"]
    changed = requests.get(url, headers={"x-amz-access-token": token}, timeout=10,
                           params=dict(params, lastUpdatedAfter="2001-01-01T00:00:00Z", paginationToken=next_token))
    assert changed.status_code == 400
    same = requests.get(url, headers={"x-amz-access-token": token}, timeout=10,
                        params=dict(params, maxResultsPerPage=3, paginationToken=next_token))  # may change
    assert same.status_code == 200 and len(same.json()["orders"]) == 3


def test_v0_reads_buyer_and_address_through_a_restricted_data_token(sandbox, sandbox_control, sandbox_state):
    created = sandbox_control("orders", channel="amazon", count=12)["created"]
    conn = _connector(sandbox, api_version="v0")
    orders = [o for page in iter_pages(conn, SINCE) for o in page.orders]
    expected = _expected(sandbox_state)
    assert all(o.email == expected[o.external_id]["email"] for o in orders)
    ready = [o for o in orders if o.channel_status not in ("Pending", "Canceled")]
    assert ready and all(o.shipping_address.line1 and o.shipping_address.name for o in ready)
    assert conn.rdt.issued == 1  # one token (generic {orderId} paths) for every order
    # the restricted operations refuse the plain access token; getOrders without an RDT has no PII
    token = _access_token(sandbox)
    denied = requests.get(f"{sandbox}/amazon/na/orders/v0/orders/{created[0]}/address",
                          headers={"x-amz-access-token": token}, timeout=10)
    assert denied.status_code == 403 and "Restricted Data Token" in denied.text
    plain = requests.get(f"{sandbox}/amazon/na/orders/v0/orders", headers={"x-amz-access-token": token},
                         params={"MarketplaceIds": "ATVPDKIKX0DER,A2EUQ1WTGCTBG2",
                                 "LastUpdatedAfter": "2000-01-01T00:00:00Z"}, timeout=10).json()["payload"]["Orders"]
    assert not any("BuyerInfo" in o or "Name" in (o.get("ShippingAddress") or {}) for o in plain)
    # an RDT is good only for what it names
    rdt = requests.post(f"{sandbox}/amazon/na/tokens/2021-03-01/restrictedDataToken",
                        headers={"x-amz-access-token": token}, timeout=10,
                        json={"restrictedResources": [{"method": "GET",
                                                       "path": f"/orders/v0/orders/{created[0]}/address"}]}).json()
    headers = {"x-amz-access-token": rdt["restrictedDataToken"]}
    assert requests.get(f"{sandbox}/amazon/na/orders/v0/orders/{created[0]}/address", headers=headers,
                        timeout=10).status_code == 200
    assert requests.get(f"{sandbox}/amazon/na/orders/v0/orders/{created[1]}/address", headers=headers,
                        timeout=10).status_code == 403


def test_each_version_has_its_own_rate_limits(sandbox, sandbox_control, sandbox_state):
    sandbox_control("orders", channel="amazon", count=2)
    token = _access_token(sandbox)
    headers = {"x-amz-access-token": token}
    search = f"{sandbox}/amazon/na/orders/2026-01-01/orders"
    statuses = [requests.get(search, headers=headers, params={"lastUpdatedAfter": "2000-01-01T00:00:00Z"},
                             timeout=10) for _ in range(21)]
    assert [r.status_code for r in statuses].count(200) == 20 and statuses[-1].status_code == 429  # burst 20
    assert statuses[0].headers["x-amzn-RateLimit-Limit"] == "0.0056"
    v0 = requests.get(f"{sandbox}/amazon/na/orders/v0/orders", headers=headers, timeout=10,
                      params={"MarketplaceIds": "ATVPDKIKX0DER", "LastUpdatedAfter": "2000-01-01T00:00:00Z"})
    assert v0.status_code == 200 and v0.headers["x-amzn-RateLimit-Limit"] == "0.0167"
