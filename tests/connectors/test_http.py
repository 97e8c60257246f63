"""The session factory over real HTTP against the sandbox: retries, Retry-After, rate limits,
typed errors, redaction. Waits are scaled down with ``time_scale``; the recorded sleeps are checked."""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import requests

from connectors.errors import (ChannelAuthError, ChannelError, ChannelNotFound, ChannelRateLimited,
                               ChannelUnavailable)
from connectors.http import (SP_API_RATES, ShopifyCallLimiter, TokenBucket, make_session, parse_retry_after,
                             redact_text, redact_url)
from connectors.sandbox import DEFAULT_CREDENTIALS
from connectors.woocommerce import WooCommerceConnector

TOKEN = DEFAULT_CREDENTIALS["shopify"]["access_token"]
SCALE = 0.01


class Sleeps:
    """Records every wait the session asks for, and really waits."""

    def __init__(self):
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        time.sleep(seconds)


def shop_url(root: str) -> str:
    return f"{root}/shopify/demo/admin/api/2026-10/shop.json"


def session(sleeps=None, **kwargs):
    s = make_session("shopify", time_scale=kwargs.pop("time_scale", SCALE), sleep=sleeps or Sleeps(), **kwargs)
    s.headers["X-Shopify-Access-Token"] = TOKEN
    return s


def test_5xx_are_retried_with_backoff(sandbox, sandbox_control, sandbox_state):
    sandbox_control("faults", channel="shopify", script=["500", "502", "503", "ok"], retry_after=None)
    sleeps = Sleeps()
    s = session(sleeps, backoff=1.0)
    data, response = s.get_json(shop_url(sandbox))
    assert response.status_code == 200 and data["shop"]["myshopify_domain"] == "demo.myshopify.com"
    assert s.stats["retries"] == 3
    assert {k: v for k, v in sandbox_state.fault_counts["shopify"].items() if v} == {"500": 1, "502": 1, "503": 1}
    # exponential with jitter: attempt n waits [0.5, 1] x 2**n nominal seconds, times the scale
    for n, wait in enumerate(sleeps.calls):
        assert 0.5 * 2 ** n * SCALE <= wait <= 2 ** n * SCALE


def test_retry_after_seconds_is_honoured_on_429_and_503(sandbox, sandbox_control):
    sandbox_control("faults", channel="shopify", script=["429", "503"], retry_after="7.5")
    sleeps = Sleeps()
    s = session(sleeps, time_scale=0.02)
    started = time.monotonic()
    data, _ = s.get_json(shop_url(sandbox))
    assert "shop" in data
    waits = [c for c in sleeps.calls if c >= 0.1]
    assert waits == [pytest.approx(7.5 * 0.02), pytest.approx(7.5 * 0.02)]
    assert time.monotonic() - started >= 2 * 7.5 * 0.02
    assert s.stats["throttled"] == 1


def test_retry_after_http_date(sandbox, sandbox_control):
    when = datetime.now(timezone.utc) + timedelta(seconds=40)
    sandbox_control("faults", channel="woocommerce", script=["503"], retry_after=format_datetime(when, usegmt=True))
    sleeps = Sleeps()
    s = make_session("woocommerce", time_scale=SCALE, sleep=sleeps)
    creds = DEFAULT_CREDENTIALS["woocommerce"]
    response = s.get(f"{sandbox}/woocommerce/demo/wp-json/wc/v3/orders",
                     auth=(creds["consumer_key"], creds["consumer_secret"]))
    assert response.status_code == 200 and response.json() == []
    assert 38 * SCALE <= max(sleeps.calls) <= 40 * SCALE


def test_parse_retry_after():
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("2") == 2.0 and parse_retry_after("1.5") == 1.5
    assert parse_retry_after("Wed, 01 May 2024 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None and parse_retry_after("-3") is None


def test_gives_up_with_typed_errors(sandbox, sandbox_control, sandbox_state):
    sandbox_control("faults", channel="shopify", script=["500"] * 3)
    with pytest.raises(ChannelUnavailable, match=r"500 .*gave up after 3 attempts"):
        session(max_retries=2).get_json(shop_url(sandbox))
    sandbox_control("faults", channel="shopify", script=["429"] * 3, retry_after="1")
    with pytest.raises(ChannelRateLimited) as err:
        session(max_retries=2).get_json(shop_url(sandbox))
    assert err.value.status == 429 and err.value.channel == "shopify"
    assert sandbox_state.request_counts["shopify"] == 6


def test_auth_errors_are_not_retried(sandbox, sandbox_state):
    s = session()
    s.headers["X-Shopify-Access-Token"] = "shpat_wrong"
    with pytest.raises(ChannelAuthError) as err:
        s.get_json(shop_url(sandbox))
    assert err.value.status == 401 and "Invalid API key" in str(err.value)
    assert "shpat_wrong" not in str(err.value)
    assert sandbox_state.request_counts["shopify"] == 1
    with pytest.raises(ChannelNotFound):
        session().get_json(f"{sandbox}/shopify/demo/admin/api/2026-10/orders/1.json")
    with pytest.raises(ChannelError) as bad:
        session().get_json(f"{sandbox}/shopify/demo/admin/api/2026-10/orders.json?limit=999")
    assert bad.value.status == 400 and not isinstance(bad.value, ChannelUnavailable)


def test_truncated_json_is_retried(sandbox, sandbox_control, sandbox_state):
    sandbox_control("orders", channel="shopify", count=3)
    sandbox_control("faults", channel="shopify", script=["truncated", "truncated"])
    s = session()
    data, _ = s.get_json(f"{sandbox}/shopify/demo/admin/api/2026-10/orders.json", params={"status": "any"})
    assert len(data["orders"]) == 3
    assert s.stats["retries"] == 2 and sandbox_state.fault_counts["shopify"]["truncated"] == 2


def test_slow_response_times_out_and_is_retried(sandbox, sandbox_control, sandbox_state):
    sandbox_control("faults", channel="shopify", script=["slow"], slow_seconds=1.0)
    s = session(timeout=(2.0, 0.3))
    data, _ = s.get_json(shop_url(sandbox))
    assert "shop" in data and s.stats["retries"] == 1
    assert sandbox_state.fault_counts["shopify"]["slow"] == 1


def _hammer(fetch, n: int, threads: int = 4) -> None:
    def work(k):
        for _ in range(k):
            fetch()

    pool = [threading.Thread(target=work, args=(n // threads,)) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


def test_shopify_call_limit_keeps_us_under_the_bucket(sandbox, sandbox_control, sandbox_state):
    scale = 0.05  # the bucket leaks 2 calls per nominal second = 40 per real second
    sandbox_control("time_scale", time_scale=scale)
    url = shop_url(sandbox)
    # control: without the limiter, 60 quick calls overflow the 40-call bucket
    statuses = []
    _hammer(lambda: statuses.append(requests.get(url, headers={"X-Shopify-Access-Token": TOKEN}).status_code), 60)
    assert statuses.count(429) > 0
    time.sleep(40 / 40 + 0.2)  # let the bucket drain
    before = sandbox_state.throttled_counts["shopify"]
    s = make_session("shopify", shopify_call_limit=True, time_scale=scale, max_retries=0)
    s.headers["X-Shopify-Access-Token"] = TOKEN
    _hammer(lambda: s.get_json(url), 60)
    assert sandbox_state.throttled_counts["shopify"] == before  # not one 429
    assert s.stats["waited"] > 0


def test_shopify_call_limiter_follows_the_header():
    sleeps: list[float] = []
    now = [100.0]
    limiter = ShopifyCallLimiter(time_scale=0.5, clock=lambda: now[0], sleep=sleeps.append)
    response = requests.Response()
    response.headers[ShopifyCallLimiter.HEADER] = "39/40"
    limiter.observe(response)
    limiter.acquire()
    # 40 used after this call, 32 allowed: 8 calls to leak at 2/s = 4 nominal s = 2 real s
    assert sleeps == [pytest.approx(2.0)]
    now[0] += 10  # 20 nominal seconds later the bucket is empty again
    assert limiter.acquire() == 0.0


def test_sp_api_token_bucket_rates():
    sleeps: list[float] = []
    now = [0.0]
    rate, burst = SP_API_RATES["getOrders"]
    bucket = TokenBucket(rate, burst, time_scale=0.001, clock=lambda: now[0], sleep=sleeps.append)
    for _ in range(burst):
        assert bucket.acquire() == 0.0
    bucket.acquire()
    assert sleeps == [pytest.approx(1 / 0.0167 * 0.001)]  # about a minute, nominally
    items = TokenBucket(*SP_API_RATES["getOrderItems"], clock=lambda: now[0], sleep=sleeps.append)
    for _ in range(30):
        items.acquire()
    items.acquire()
    assert sleeps[-1] == pytest.approx(2.0)


def test_redact_url_and_text():
    url = "https://user:pw@shop.example/wp-json/wc/v3/orders?consumer_key=ck_1&consumer_secret=cs_2&page=2"
    assert redact_url(url) == "https://shop.example/wp-json/wc/v3/orders?consumer_key=***&consumer_secret=***&page=2"
    assert "sig" not in redact_url("http://h/p?oauth_signature=abc%3D&NextToken=xyz").replace("oauth_signature", "")
    assert "NextToken=xyz" in redact_url("http://h/p?oauth_signature=abc&NextToken=xyz")
    assert redact_text("GET /x?access_token=abc&limit=5 and client_secret=zzz") == \
        "GET /x?access_token=***&limit=5 and client_secret=***"


@pytest.mark.parametrize("auth", ["query", "oauth1", "basic"])
def test_no_credential_in_any_log_line_or_error(sandbox, sandbox_control, caplog, auth):
    creds = DEFAULT_CREDENTIALS["woocommerce"]
    caplog.set_level(logging.DEBUG)
    sandbox_control("orders", channel="woocommerce", count=2)
    sandbox_control("faults", channel="woocommerce", script=["500"])
    good = WooCommerceConnector(f"{sandbox}/woocommerce/demo", creds, auth=auth, time_scale=SCALE)
    assert len(good.fetch_orders(datetime(2000, 1, 1, tzinfo=timezone.utc)).orders) == 2
    wrong = dict(creds, consumer_secret="cs_wrong_secret_value")
    bad = WooCommerceConnector(f"{sandbox}/woocommerce/demo", wrong, auth=auth, time_scale=SCALE)
    with pytest.raises(ChannelAuthError) as err:
        bad.test_connection()
    text = "\n".join(r.getMessage() for r in caplog.records) + "\n" + str(err.value)
    assert "woocommerce" in text and "GET" in text  # something was logged
    for secret in (creds["consumer_key"], creds["consumer_secret"], "cs_wrong_secret_value"):
        assert secret not in text


def test_the_environment_read_once_per_host_merges_as_requests_does(monkeypatch):
    """Proxies, no_proxy and the CA bundle from the environment: the same settings as a plain
    requests session, read once per host while the session lives."""
    from connectors.http import EnvironmentOnceSession

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    ours, plain = EnvironmentOnceSession(), requests.Session()
    for url in ("https://api.carrier.example/track/1", "https://internal.example/x", "http://127.0.0.1:9/y"):
        for verify in (None, True, False):
            assert (ours.merge_environment_settings(url, {}, None, verify, None)
                    == plain.merge_environment_settings(url, {}, None, verify, None))
    monkeypatch.setenv("HTTPS_PROXY", "http://other.example:3128")  # read once: the session keeps its own
    url = "https://api.carrier.example/z"
    assert ours.merge_environment_settings(url, {}, None, None, None)["proxies"]["https"] == "http://proxy.example:3128"
    assert EnvironmentOnceSession().merge_environment_settings(
        url, {}, None, None, None)["proxies"]["https"] == "http://other.example:3128"
