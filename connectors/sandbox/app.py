"""The sandbox WSGI application (plain werkzeug): three channel APIs and a control API.

Channel paths::

    /shopify/<shop>/admin/api/<version>/orders.json | orders/<id>.json | orders/count.json | shop.json
    /shopify/<shop>/admin/api/<version>/graphql.json        (GraphQL Admin: shopify_graphql.py)
    /woocommerce/<shop>/wp-json/wc/v3/orders | orders/<id> | orders/<id>/refunds | products
    /woocommerce/<shop>/wp-json/wc/v3/products/<id>/variations
    /amazon/auth/o2/token                                   (Login with Amazon, refresh-token grant)
    /amazon/<region>/orders/2026-01-01/orders | orders/2026-01-01/orders/<id>
    /amazon/<region>/orders/v0/orders | orders/v0/orders/<id> | .../orderItems | .../address | .../buyerInfo
    /amazon/<region>/tokens/2021-03-01/restrictedDataToken  (Tokens API: RDTs)
    /amazon/<region>/listings/2021-08-01/items/<sellerId>   (searchListingsItems)
    /amazon/<region>/sellers/v1/marketplaceParticipations
    /amazon/<region>/reports/2021-06-30/reports | reports/<id> | documents/<id>  (the returns report: reports.py)

Shopify serves only the supported versions (SHOPIFY_VERSIONS); any other is answered as the
oldest supported one, with ``X-Shopify-API-Version`` saying so.

Control API (JSON): ``GET /_sandbox/state``; ``POST /_sandbox/catalog``, ``/orders``, ``/update``,
``/cancel``, ``/faults``, ``/time_scale``, ``/reset``, ``/config``, ``/products``. ``/update`` with
``{"action": "patch", "ids": [...], "patch": {"line_items.0.quantity": 10**70}}`` overrides
raw fields of those orders' rendered payloads (poison values for the import's tests).

A channel request goes through: fault injection (429/500/503/slow/truncated/duplicate page) ->
authentication (401 Shopify/WooCommerce, 403 SP-API) -> the channel's rate limit (Shopify leaky
bucket with ``X-Shopify-Shop-Api-Call-Limit``, SP-API per-operation token buckets) -> the handler.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from datetime import datetime, timezone
from email.utils import formatdate
from typing import Any, Callable, Optional
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ..errors import InvalidPayload
from ..parsing import parse_time
from ..woocommerce import oauth1_signature
from . import render, reports, shopify_graphql, write_api
from . import stock as stock_writes
from .carriers import CarrierHub
from .state import CHANNELS, SHOPIFY_BUCKET, SP_API_LIMITS, Bucket, LeakyBucket, SandboxState, SimOrder

JSON = "application/json; charset=utf-8"


def json_response(data: Any, status: int = 200, headers: Optional[dict] = None) -> Response:
    try:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:  # a lone surrogate (a patched poison order): escape it
        body = json.dumps(data, separators=(",", ":")).encode()
    return Response(body, status=status, headers=headers or {}, content_type=JSON)


def _patched(order: SimOrder, payload: dict) -> dict:
    """The rendered payload with the order's raw overrides (``SimOrder.patch``) applied."""
    for path, value in order.patch.items():
        *parents, last = path.split(".")
        target: Any = payload
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return payload


def encode_token(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str) -> Optional[dict]:
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error):
        return None
    return value if isinstance(value, dict) else None


def filter_time(value: Optional[str], naive_tz: timezone) -> Optional[datetime]:
    if not value:
        return None
    try:
        return parse_time(value)
    except InvalidPayload:
        try:
            return parse_time(value, naive_is_utc=True).replace(tzinfo=naive_tz).astimezone(timezone.utc)
        except InvalidPayload:
            raise ValueError(f"invalid date {value!r}") from None


class ChannelRequest:
    """What the middleware learned about a channel request."""

    def __init__(self, channel: str, shop: str, operation: str, continuation: bool):
        self.channel, self.shop, self.operation, self.continuation = channel, shop, operation, continuation


class SandboxApp(stock_writes.StockEndpoints, write_api.WriteApi, reports.ReportsApi):
    respond = staticmethod(json_response)

    def __init__(self, state: SandboxState):
        self.state = state
        self.url_map = Map([
            Rule("/_sandbox/state", endpoint="ctl_state", methods=["GET"]),
            Rule("/_sandbox/catalog", endpoint="ctl_catalog", methods=["POST"]),
            Rule("/_sandbox/orders", endpoint="ctl_orders", methods=["POST"]),
            Rule("/_sandbox/update", endpoint="ctl_update", methods=["POST"]),
            Rule("/_sandbox/cancel", endpoint="ctl_cancel", methods=["POST"]),
            Rule("/_sandbox/faults", endpoint="ctl_faults", methods=["POST"]),
            Rule("/_sandbox/time_scale", endpoint="ctl_time_scale", methods=["POST"]),
            Rule("/_sandbox/reset", endpoint="ctl_reset", methods=["POST"]),
            Rule("/_sandbox/config", endpoint="ctl_config", methods=["POST"]),
            Rule("/_sandbox/products", endpoint="ctl_products", methods=["POST"]),
            Rule("/shopify/<shop>/admin/api/<version>/orders.json", endpoint="shopify_orders", methods=["GET"]),
            Rule("/shopify/<shop>/admin/api/<version>/orders/count.json", endpoint="shopify_count", methods=["GET"]),
            Rule("/shopify/<shop>/admin/api/<version>/orders/<oid>.json", endpoint="shopify_order", methods=["GET"]),
            Rule("/shopify/<shop>/admin/api/<version>/shop.json", endpoint="shopify_shop", methods=["GET"]),
            Rule("/shopify/<shop>/admin/api/<version>/graphql.json", endpoint="shopify_graphql", methods=["POST"]),
            Rule("/woocommerce/<shop>/wp-json/wc/v3/products", endpoint="woo_products", methods=["GET"]),
            Rule("/woocommerce/<shop>/wp-json/wc/v3/products/<int:pid>/variations", endpoint="woo_variations",
                 methods=["GET"]),
            Rule("/amazon/<shop>/listings/2021-08-01/items/<seller_id>", endpoint="amz_listings", methods=["GET"]),
            Rule("/woocommerce/<shop>/wp-json/wc/v3/orders", endpoint="woo_orders", methods=["GET"]),
            Rule("/woocommerce/<shop>/wp-json/wc/v3/orders/<oid>", endpoint="woo_order", methods=["GET"]),
            Rule("/woocommerce/<shop>/wp-json/wc/v3/orders/<oid>/refunds", endpoint="woo_refunds", methods=["GET"]),
            Rule("/amazon/auth/o2/token", endpoint="lwa_token", methods=["POST"]),
            Rule("/amazon/<shop>/orders/v0/orders", endpoint="amz_orders", methods=["GET"]),
            Rule("/amazon/<shop>/orders/v0/orders/<oid>", endpoint="amz_order", methods=["GET"]),
            Rule("/amazon/<shop>/orders/v0/orders/<oid>/orderItems", endpoint="amz_items", methods=["GET"]),
            Rule("/amazon/<shop>/sellers/v1/marketplaceParticipations", endpoint="amz_participations",
                 methods=["GET"]),
            Rule("/amazon/<shop>/orders/v0/orders/<oid>/address", endpoint="amz_address", methods=["GET"]),
            Rule("/amazon/<shop>/orders/v0/orders/<oid>/buyerInfo", endpoint="amz_buyer_info", methods=["GET"]),
            Rule("/amazon/<shop>/tokens/2021-03-01/restrictedDataToken", endpoint="amz_rdt", methods=["POST"]),
            Rule("/amazon/<shop>/orders/2026-01-01/orders", endpoint="amz_search", methods=["GET"]),
            Rule("/amazon/<shop>/orders/2026-01-01/orders/<oid>", endpoint="amz_get", methods=["GET"]),
            *stock_writes.rules(),
            *write_api.rules(),
            *reports.rules(),
        ])
        # The carriers (carriers/): each registers its routes on this frame under its prefix.
        self.carriers = CarrierHub(state)
        for rule in self.carriers.rules():
            self.url_map.add(rule)

    # -- WSGI ----------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except HTTPException as exc:
            response = json_response({"errors": exc.description or exc.name}, exc.code or 500)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, values = adapter.match()
        except NotFound:
            return self._not_found(request)
        if endpoint.startswith("carrier"):
            return self.carriers.dispatch(request, endpoint, values)
        handler: Callable[..., Response] = getattr(self, endpoint)
        if endpoint.startswith("ctl_"):
            try:
                return handler(request, **values)
            except (ValueError, TypeError, KeyError) as exc:
                return json_response({"error": str(exc)}, 400)
        if endpoint in ("lwa_token", "feed_document_bytes"):  # no SP-API auth (LWA; S3's presigned URL)
            return handler(request, **values)
        return self._channel_call(request, endpoint, handler, values)

    def _not_found(self, request: Request) -> Response:
        carrier = self.carriers.owns(request.path)
        if carrier is not None:
            return self.carriers.not_found(carrier)
        if request.path.startswith("/amazon/"):
            return json_response({"errors": [{"code": "NotFound", "message": "Resource not found", "details": ""}]},
                                 404)
        if request.path.startswith("/woocommerce/"):
            return json_response({"code": "rest_no_route", "message": "No route was found matching the URL and "
                                  "request method.", "data": {"status": 404}}, 404)
        return json_response({"errors": "Not Found"}, 404)

    # -- the channel pipeline ------------------------------------------------------------------
    def _channel_call(self, request: Request, endpoint: str, handler, values: dict) -> Response:
        channel = {"shopify": "shopify", "woo": "woocommerce", "amz": "amazon"}[endpoint.split("_")[0]]
        operation = AMAZON_OPERATIONS.get(endpoint) or stock_writes.STOCK_OPERATIONS.get(endpoint, endpoint)
        args = request.args
        listing = endpoint in ("shopify_orders", "woo_orders", "amz_orders", "amz_search")
        continuation = listing and bool(args.get("page_info") or args.get("NextToken") or args.get("paginationToken")
                                        or (endpoint == "woo_orders" and args.get("page", "1") not in ("", "1")))
        info = ChannelRequest(channel, values["shop"], operation, continuation)
        state = self.state
        with state.lock:
            state.request_counts[channel] += 1
        fault = state.pick_fault(channel)
        if fault and fault.isdigit():  # "429", "500", "503" or any other status from a script
            state.count_fault(channel, fault)
            return self._fault_response(info, int(fault))
        if fault == "slow":
            state.count_fault(channel, fault)
            time.sleep(state.faults[channel].slow_seconds)
        if fault == "duplicate" and continuation:
            with state.lock:
                replay = state.last_list.get((channel, info.shop, _page_key(endpoint, args)))
            if replay is not None:
                state.count_fault(channel, fault)
                status, headers, body = replay
                return Response(body, status=status, headers=headers, content_type=JSON)
        denied = self._authenticate(request, info)
        if denied is not None:
            return denied
        limited, limit_headers = self._rate_limit(info)
        if limited is not None:
            return limited
        if channel == "shopify":
            # Shopify serves a retired (or unknown) version as its oldest supported one, and says
            # which version it served in X-Shopify-API-Version
            values = dict(values, version=served_shopify_version(values.get("version", "")))
        response = handler(request, **values)
        if state.request_hook is not None and request.method != "GET":
            # tests: the request arrived and was acted on; the client has no answer yet
            state.request_hook(channel, operation, request)
        if channel == "shopify":
            response.headers["X-Shopify-API-Version"] = values["version"]
        for key, value in limit_headers.items():
            response.headers[key] = value
        next_key = getattr(response, "next_page_key", None)
        if listing and response.status_code == 200 and next_key:
            # what a "page served twice" fault answers to the request for the next page
            kept = {k: v for k, v in response.headers.items() if k.lower() not in ("content-type", "content-length")}
            with state.lock:
                state.last_list[(channel, info.shop, next_key)] = (200, kept, response.get_data())
                while len(state.last_list) > 64:  # only recent pages can be replayed
                    state.last_list.popitem(last=False)
        if fault == "truncated":
            state.count_fault(channel, fault)
            body = response.get_data()
            response.set_data(body[: max(1, len(body) // 2)])
        return response

    def _retry_after_headers(self, channel: str) -> dict:
        value = self.state.faults[channel].retry_after
        if value is None:
            return {}
        if value == "date":
            return {"Retry-After": formatdate(time.time() + 1, usegmt=True)}
        return {"Retry-After": str(value)}

    def _fault_response(self, info: ChannelRequest, status: int) -> Response:
        channel = info.channel
        headers = self._retry_after_headers(channel) if status in (429, 503) else {}
        if status == 429:
            with self.state.lock:
                self.state.throttled_counts[channel] += 1
        if channel == "shopify":
            message = {429: "Exceeded 2 calls per second for api client. Reduce request rates to resume "
                            "uninterrupted service.", 503: "Service Unavailable"}.get(status, "Internal Server Error")
            if status == 429:
                headers["X-Shopify-Shop-Api-Call-Limit"] = f"{SHOPIFY_BUCKET}/{SHOPIFY_BUCKET}"
            return json_response({"errors": message}, status, headers)
        if channel == "amazon":
            code, message = {429: ("QuotaExceeded", "You exceeded your quota for the requested resource."),
                             503: ("ServiceUnavailable", "Service temporarily unavailable.")}.get(
                status, ("InternalFailure", "We encountered an internal error. Please try again."))
            headers["x-amzn-RequestId"] = secrets.token_hex(8)
            return json_response({"errors": [{"code": code, "message": message, "details": ""}]}, status, headers)
        code = {429: "rest_too_many_requests", 503: "service_unavailable"}.get(status, "internal_server_error")
        return json_response({"code": code, "message": code.replace("_", " "), "data": {"status": status}},
                             status, headers)

    # -- authentication ------------------------------------------------------------------------
    def _authenticate(self, request: Request, info: ChannelRequest) -> Optional[Response]:
        creds = self.state.credentials[info.channel]
        if info.channel == "shopify":
            token = request.headers.get("X-Shopify-Access-Token")
            if token != creds["access_token"]:
                return json_response({"errors": "[API] Invalid API key or access token (unrecognized login or "
                                                 "wrong password)"}, 401)
            return None
        if info.channel == "woocommerce":
            return self._woo_auth(request, creds)
        token = request.headers.get("x-amz-access-token")
        with self.state.lock:
            expires = self.state.access_tokens.get(token or "")
            rdt = self.state.rdt_tokens.get(token or "")
        if expires is None and rdt is not None:
            # a Restricted Data Token is an access token for the resources it names only
            expires, resources = rdt
            request.environ["sandbox.rdt"] = resources
            if time.monotonic() < expires and not _rdt_covers(resources, request.method, _api_path(request)):
                return json_response({"errors": [{"code": "Unauthorized", "message": "Access to requested resource "
                                                  "is denied.", "details": "The Restricted Data Token does not "
                                                  "cover this resource."}]}, 403)
        if expires is None:
            return json_response({"errors": [{"code": "Unauthorized", "message": "Access to requested resource is "
                                              "denied.", "details": ""}]}, 403)
        if time.monotonic() >= expires:
            return json_response({"errors": [{"code": "Unauthorized", "message": "Access to requested resource is "
                                              "denied.", "details": "The access token you provided has expired."}]},
                                 403)
        return None

    def _woo_auth(self, request: Request, creds: dict) -> Optional[Response]:
        def fail(message: str, code: str = "woocommerce_rest_authentication_error") -> Response:
            return json_response({"code": code, "message": message, "data": {"status": 401}}, 401)

        key = secret = None
        if request.authorization and request.authorization.type == "basic":
            key, secret = request.authorization.username, request.authorization.password
        elif request.args.get("consumer_key"):
            key, secret = request.args.get("consumer_key"), request.args.get("consumer_secret")
        elif request.args.get("oauth_consumer_key"):
            args = request.args
            if args.get("oauth_consumer_key") != creds["consumer_key"]:
                return fail("Consumer key is invalid.")
            if args.get("oauth_signature_method") not in ("HMAC-SHA1", "HMAC-SHA256"):
                return fail("Invalid signature - signature method is invalid.")
            try:
                stamp = int(args.get("oauth_timestamp", ""))
            except ValueError:
                return fail("Invalid timestamp.")
            if abs(time.time() - stamp) > 15 * 60:
                return fail("Invalid timestamp.")
            params = [(k, v) for k, v in args.items(multi=False) if k != "oauth_signature"]
            expected = oauth1_signature(request.method, request.base_url, params, creds["consumer_secret"])
            if args.get("oauth_signature") != expected:
                return fail("Invalid signature - provided signature does not match.")
            return None
        else:
            return fail("Sorry, you cannot list resources.", "woocommerce_rest_cannot_view")
        if key != creds["consumer_key"]:
            return fail("Consumer key is invalid.")
        if secret != creds["consumer_secret"]:
            return fail("Consumer secret is invalid.")
        return None

    # -- rate limits ---------------------------------------------------------------------------
    def _rate_limit(self, info: ChannelRequest) -> tuple[Optional[Response], dict]:
        state = self.state
        if info.operation == "shopify_graphql":
            return None, {}  # GraphQL has its own, cost-based throttle (shopify_graphql.py)
        if info.channel == "shopify":
            with state.lock:
                bucket = state.shopify_buckets.setdefault(info.shop, LeakyBucket())
                ok, used = bucket.call(state.time_scale)
                if not ok:
                    state.throttled_counts["shopify"] += 1
            header = {"X-Shopify-Shop-Api-Call-Limit": f"{used}/{bucket.capacity}"}
            if not ok:
                return json_response({"errors": "Exceeded 2 calls per second for api client. Reduce request rates "
                                                "to resume uninterrupted service."}, 429,
                                     {**header, "Retry-After": "2.0"}), header
            return None, header
        if info.channel == "amazon":
            rate, burst = SP_API_LIMITS.get(info.operation) or stock_writes.LISTINGS_LIMITS.get(
                info.operation, (0.5, 30))
            with state.lock:
                bucket = state.amazon_buckets.setdefault((info.shop, info.operation), Bucket(rate, burst))
                ok, _ = bucket.take(state.time_scale)
                if not ok:
                    state.throttled_counts["amazon"] += 1
            headers = {"x-amzn-RateLimit-Limit": str(rate), "x-amzn-RequestId": secrets.token_hex(8)}
            if not ok:
                return json_response({"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for "
                                                  "the requested resource.", "details": ""}]}, 429, headers), headers
            return None, headers
        return None, {}

    # -- control API -----------------------------------------------------------------------------
    @staticmethod
    def _body(request: Request) -> Any:
        if not request.data:
            return {}
        return json.loads(request.get_data(as_text=True))

    @staticmethod
    def _channel(body: dict) -> str:
        channel = body.get("channel")
        if channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}")
        return channel

    def ctl_state(self, request: Request) -> Response:
        return json_response(self.state.snapshot())

    def ctl_catalog(self, request: Request) -> Response:
        body = self._body(request)
        catalog = body.get("catalog") if isinstance(body, dict) else body
        self.state.set_catalog(catalog)
        return json_response({"catalog_size": len(self.state.catalog)})

    def ctl_orders(self, request: Request) -> Response:
        body = self._body(request)
        created = self.state.create_orders(self._channel(body), int(body.get("count", 1)), body.get("shop"),
                                           backlog_days=float(body.get("backlog_days") or 0))
        return json_response({"created": [o.external_id for o in created]})

    def ctl_update(self, request: Request) -> Response:
        body = self._body(request)
        changed = self.state.update_orders(self._channel(body), count=int(body.get("count", 1)), ids=body.get("ids"),
                                           action=body.get("action", "random"), shop=body.get("shop"),
                                           patch=body.get("patch"))
        return json_response({"updated": [o.external_id for o in changed]})

    def ctl_cancel(self, request: Request) -> Response:
        body = self._body(request)
        changed = self.state.cancel_orders(self._channel(body), count=int(body.get("count", 1)), ids=body.get("ids"),
                                           shop=body.get("shop"), reason=body.get("reason", "customer"))
        return json_response({"cancelled": [o.external_id for o in changed]})

    def ctl_faults(self, request: Request) -> Response:
        body = self._body(request)
        faults = self.state.set_faults(self._channel(body), body)
        return json_response({"channel": body["channel"], "rates": faults.rates, "script": faults.script,
                              "slow_seconds": faults.slow_seconds, "retry_after": faults.retry_after})

    def ctl_time_scale(self, request: Request) -> Response:
        body = self._body(request)
        self.state.set_time_scale(float(body.get("time_scale", body.get("scale", 1))))
        return json_response({"time_scale": self.state.time_scale})

    def ctl_reset(self, request: Request) -> Response:
        body = self._body(request)
        self.state.reset(seed=body.get("seed"), catalog=body.get("catalog"),
                         time_scale=float(body.get("time_scale", 1.0)))
        return json_response({"seed": self.state.seed})

    def ctl_products(self, request: Request) -> Response:
        body = self._body(request)
        product = self.state.add_product(self._channel(body), body.get("shop"), str(body["title"]),
                                         int(body.get("variants", 1)), body.get("sku_prefix"),
                                         str(body.get("price", "10.00")))
        return json_response({"id": product["id"], "woo_id": product["woo_id"],
                              "skus": [v["sku"] for v in product["variants"]]})

    def ctl_config(self, request: Request) -> Response:
        body = self._body(request)
        if "amazon_pii_role" in body:
            self.state.amazon_pii_role = bool(body["amazon_pii_role"])
        if body.get("amazon_expire_pagination"):
            with self.state.lock:  # every searchOrders token issued so far expires (as after 24 hours)
                self.state.amazon_token_generation += 1
        if "amazon_items_page_size" in body:
            size = int(body["amazon_items_page_size"])
            if size < 1:
                raise ValueError("amazon_items_page_size must be >= 1")
            self.state.amazon_items_page_size = size
        return json_response({"amazon_items_page_size": self.state.amazon_items_page_size,
                              "amazon_pii_role": self.state.amazon_pii_role})

    # -- Shopify -------------------------------------------------------------------------------
    def _shopify_filter(self, orders: list[SimOrder], f: dict) -> list[SimOrder]:
        status = f.get("status", "open")
        out = []
        for o in orders:
            if status == "open" and (o.cancelled or o.fulfilled):
                continue
            if status == "closed" and not (o.fulfilled and not o.cancelled):
                continue
            if status == "cancelled" and not o.cancelled:
                continue
            if f.get("updated_at_min") and o.updated_at < datetime.fromisoformat(f["updated_at_min"]):
                continue
            if f.get("updated_at_max") and o.updated_at > datetime.fromisoformat(f["updated_at_max"]):
                continue
            if f.get("created_at_min") and o.created_at < datetime.fromisoformat(f["created_at_min"]):
                continue
            if f.get("since_id") and int(o.external_id) <= int(f["since_id"]):
                continue
            if f.get("ids") and o.external_id not in f["ids"]:
                continue
            out.append(o)
        return sorted(out, key=lambda o: int(o.external_id))

    def shopify_orders(self, request: Request, shop: str, version: str) -> Response:
        args = request.args
        try:
            limit = int(args.get("limit", 50))
        except ValueError:
            return json_response({"errors": {"limit": "Invalid value"}}, 400)
        if not 1 <= limit <= 250:
            return json_response({"errors": {"limit": "must be between 1 and 250"}}, 400)
        page_info = args.get("page_info")
        if page_info:
            extra = sorted(set(args) - {"limit", "page_info", "fields"})
            if extra:
                return json_response({"errors": {"page_info": f"cannot be combined with {', '.join(extra)}"}}, 400)
            cursor = decode_token(page_info)
            if cursor is None:
                return json_response({"errors": {"page_info": "Invalid value."}}, 400)
            filters = cursor.get("f", {})
        else:
            cursor, filters = {}, {}
            try:
                for key in ("updated_at_min", "updated_at_max", "created_at_min"):
                    when = filter_time(args.get(key), render.SHOP_TZ)
                    if when:
                        filters[key] = when.isoformat()
            except ValueError as exc:
                return json_response({"errors": {"updated_at_min": str(exc)}}, 400)
            if args.get("status"):
                if args["status"] not in ("open", "closed", "cancelled", "any"):
                    return json_response({"errors": {"status": "Invalid value"}}, 400)
                filters["status"] = args["status"]
            if args.get("since_id"):
                filters["since_id"] = args["since_id"]
            if args.get("ids"):
                filters["ids"] = [i.strip() for i in args["ids"].split(",")]
        with self.state.lock:
            matching = self._shopify_filter(self.state.list_orders("shopify", shop), filters)
            if cursor.get("after") is not None:
                chunk = [o for o in matching if int(o.external_id) > cursor["after"]][:limit]
                more_after = len([o for o in matching if int(o.external_id) > cursor["after"]]) > limit
            elif cursor.get("before") is not None:
                before = [o for o in matching if int(o.external_id) < cursor["before"]]
                chunk, more_after = before[-limit:], True
            else:
                chunk = matching[:limit]
                more_after = len(matching) > limit
            body = {"orders": [_patched(o, render.shopify_order(o)) for o in chunk]}
        links = []
        base = f"{request.host_url.rstrip('/')}{request.path}"
        if chunk and more_after:
            token_next = encode_token({"f": filters, "after": int(chunk[-1].external_id)})
            links.append(f'<{base}?{urlencode({"limit": limit, "page_info": token_next})}>; rel="next"')
        if chunk and page_info:
            token = encode_token({"f": filters, "before": int(chunk[0].external_id)})
            links.append(f'<{base}?{urlencode({"limit": limit, "page_info": token})}>; rel="previous"')
        headers = {"Link": ", ".join(links)} if links else {}
        response = json_response(body, 200, headers)
        if chunk and more_after:
            response.next_page_key = token_next
        return response

    def shopify_count(self, request: Request, shop: str, version: str) -> Response:
        status = request.args.get("status", "open")
        with self.state.lock:
            count = len(self._shopify_filter(self.state.list_orders("shopify", shop), {"status": status}))
        return json_response({"count": count})

    def shopify_order(self, request: Request, shop: str, version: str, oid: str) -> Response:
        with self.state.lock:
            order = self.state.get_order("shopify", shop, oid)
            if order is None:
                return json_response({"errors": "Not Found"}, 404)
            return json_response({"order": _patched(order, render.shopify_order(order))})

    def shopify_shop(self, request: Request, shop: str, version: str) -> Response:
        return json_response({"shop": {"id": 690933842, "name": f"{shop} (Waybill sandbox)",
                                       "myshopify_domain": f"{shop}.myshopify.com", "currency": "USD",
                                       "iana_timezone": "America/New_York", "timezone": "(GMT-04:00) Eastern Time",
                                       "plan_name": "sandbox"}})

    def shopify_graphql(self, request: Request, shop: str, version: str) -> Response:
        try:
            body = json.loads(request.get_data(as_text=True) or "null")
        except ValueError:
            body = None
        with self.state.lock:
            bucket = self.state.graphql_buckets.setdefault(shop, shopify_graphql.CostBucket())
        return json_response(shopify_graphql.execute(self.state, shop, body, bucket, self.state.time_scale,
                                                     version))

    # -- WooCommerce ---------------------------------------------------------------------------
    def _woo_page(self, request: Request, items: list, render_one) -> Response:
        """A WooCommerce list page: per_page/page, X-WP-Total(Pages), 200 [] past the end."""
        try:
            per_page = int(request.args.get("per_page", 10))
            page = int(request.args.get("page", 1))
        except ValueError:
            per_page, page = 0, 0
        if not 1 <= per_page <= 100 or page < 1:
            return json_response({"code": "rest_invalid_param", "message": "Invalid parameter(s): per_page, page",
                                  "data": {"status": 400}}, 400)
        pages = (len(items) + per_page - 1) // per_page
        chunk = items[(page - 1) * per_page: page * per_page]
        return json_response([render_one(item) for item in chunk], 200,
                             {"X-WP-Total": str(len(items)), "X-WP-TotalPages": str(pages)})

    def woo_products(self, request: Request, shop: str) -> Response:
        def product(p):
            variable = len(p["variants"]) > 1
            return {"id": p["woo_id"], "name": p["title"], "slug": p["handle"], "type": "variable" if variable
                    else "simple", "status": "publish", "sku": "" if variable else p["variants"][0]["sku"],
                    "price": "" if variable else str(p["variants"][0]["price"]),
                    "manage_stock": not variable, "variations": [v["woo_id"] for v in p["variants"]] if variable
                    else [], "date_modified_gmt": p["updated_at"].rstrip("Z"),
                    **({} if variable else self.woo_stock(shop, p["woo_id"]))}
        return self._woo_page(request, self.state.channel_products("woocommerce", shop), product)

    def woo_variations(self, request: Request, shop: str, pid: int) -> Response:
        found = next((p for p in self.state.channel_products("woocommerce", shop) if p["woo_id"] == pid), None)
        if found is None:
            return json_response({"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID.",
                                  "data": {"status": 404}}, 404)
        variants = found["variants"] if len(found["variants"]) > 1 else []
        return self._woo_page(request, variants, lambda v: {
            "id": v["woo_id"], "sku": v["sku"], "price": str(v["price"]), "status": "publish",
            "manage_stock": True, "attributes": [{"id": 1, "name": "Variant", "option": v["title"]}],
            **self.woo_stock(shop, v["woo_id"])})

    def woo_orders(self, request: Request, shop: str) -> Response:
        args = request.args

        def invalid(param: str, message: str) -> Response:
            return json_response({"code": "rest_invalid_param", "message": f"Invalid parameter(s): {param}",
                                  "data": {"status": 400, "params": {param: message}}}, 400)

        try:
            per_page = int(args.get("per_page", 10))
            page = int(args.get("page", 1))
        except ValueError:
            return invalid("per_page", "per_page and page must be integers.")
        if not 1 <= per_page <= 100:
            return invalid("per_page", "per_page must be between 1 (inclusive) and 100 (inclusive)")
        if page < 1:
            return invalid("page", "page must be greater than or equal to 1")
        gmt = args.get("dates_are_gmt", "").lower() in ("1", "true")
        naive_tz = timezone.utc if gmt else render.WOO_TZ
        bounds = {}
        try:
            for key in ("after", "before", "modified_after", "modified_before"):
                bounds[key] = filter_time(args.get(key), naive_tz)
        except ValueError as exc:
            return invalid(key, str(exc))
        orderby = args.get("orderby", "date")
        if orderby not in ("date", "id", "include", "title", "slug", "modified"):
            return invalid("orderby", "orderby is not one of date, id, include, title, slug, modified")
        descending = args.get("order", "desc") == "desc"
        statuses = [s for s in args.get("status", "any").split(",") if s]
        with self.state.lock:
            orders = []
            for o in self.state.list_orders("woocommerce", shop):
                if bounds["after"] and not o.created_at > bounds["after"]:
                    continue
                if bounds["before"] and not o.created_at < bounds["before"]:
                    continue
                if bounds["modified_after"] and not o.updated_at > bounds["modified_after"]:
                    continue
                if bounds["modified_before"] and not o.updated_at < bounds["modified_before"]:
                    continue
                if "any" not in statuses and render.woo_status(o) not in statuses:
                    continue
                orders.append(o)
            key = {"id": lambda o: int(o.external_id), "modified": lambda o: (o.updated_at, int(o.external_id))}.get(
                orderby, lambda o: (o.created_at, int(o.external_id)))
            orders.sort(key=key, reverse=descending)
            total = len(orders)
            pages = (total + per_page - 1) // per_page
            # a page past the end is an empty page (200 and []), as WooCommerce's orders answer it
            chunk = orders[(page - 1) * per_page: page * per_page]
            base_api = f"{request.host_url.rstrip('/')}/woocommerce/{shop}/wp-json/wc/v3"
            body = [_patched(o, render.woo_order(o, base_api)) for o in chunk]
        links = []
        plain = [(k, v) for k, v in args.items(multi=True)
                 if k != "page" and not k.startswith("oauth_") and k not in ("consumer_key", "consumer_secret")]
        if page < pages:
            links.append(f'<{request.base_url}?{urlencode(plain + [("page", page + 1)])}>; rel="next"')
        if page > 1:
            links.append(f'<{request.base_url}?{urlencode(plain + [("page", page - 1)])}>; rel="prev"')
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        if links:
            headers["Link"] = ", ".join(links)
        response = json_response(body, 200, headers)
        if page < pages:
            response.next_page_key = _woo_page_key(args, page + 1)
        return response

    def _woo_get(self, shop: str, oid: str) -> Optional[SimOrder]:
        return self.state.get_order("woocommerce", shop, oid)

    def woo_order(self, request: Request, shop: str, oid: str) -> Response:
        with self.state.lock:
            order = self._woo_get(shop, oid)
            if order is None:
                return json_response({"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.",
                                      "data": {"status": 404}}, 404)
            base_api = f"{request.host_url.rstrip('/')}/woocommerce/{shop}/wp-json/wc/v3"
            return json_response(_patched(order, render.woo_order(order, base_api)))

    def woo_refunds(self, request: Request, shop: str, oid: str) -> Response:
        with self.state.lock:
            order = self._woo_get(shop, oid)
            if order is None:
                return json_response({"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.",
                                      "data": {"status": 404}}, 404)
            return json_response(render.woo_refunds(order))

    # -- Amazon --------------------------------------------------------------------------------
    def lwa_token(self, request: Request) -> Response:
        form = request.form
        creds = self.state.credentials["amazon"]
        if form.get("grant_type") != "refresh_token":
            return json_response({"error": "unsupported_grant_type",
                                  "error_description": "The authorization grant type is not supported"}, 400)
        if form.get("client_id") != creds["client_id"] or form.get("client_secret") != creds["client_secret"]:
            return json_response({"error": "invalid_client", "error_description": "Client authentication failed"}, 401)
        if form.get("refresh_token") != creds["refresh_token"]:
            return json_response({"error": "invalid_grant",
                                  "error_description": "The request has an invalid grant parameter : refresh_token"},
                                 400)
        token = f"Atza|sandbox-{secrets.token_urlsafe(24)}"
        with self.state.lock:
            self.state.access_tokens[token] = time.monotonic() + 3600 * self.state.time_scale
        return json_response({"access_token": token, "refresh_token": form["refresh_token"],
                              "token_type": "bearer", "expires_in": 3600})

    @staticmethod
    def _amz_invalid(message: str) -> Response:
        return json_response({"errors": [{"code": "InvalidInput", "message": message, "details": ""}]}, 400)

    def amz_orders(self, request: Request, shop: str) -> Response:
        args = request.args
        marketplaces = [m for value in args.getlist("MarketplaceIds") for m in value.split(",") if m]
        if not marketplaces:
            return self._amz_invalid("Missing required parameter: MarketplaceIds")
        next_token = args.get("NextToken")
        if next_token:
            cursor = decode_token(next_token)
            if cursor is None:
                return self._amz_invalid("Invalid NextToken")
            filters, after = cursor["f"], cursor["after"]
        else:
            created_after, updated_after = args.get("CreatedAfter"), args.get("LastUpdatedAfter")
            if bool(created_after) == bool(updated_after):
                return self._amz_invalid("Exactly one of CreatedAfter and LastUpdatedAfter is required")
            try:
                size = int(args.get("MaxResultsPerPage", 100))
            except ValueError:
                return self._amz_invalid("MaxResultsPerPage must be an integer")
            if not 1 <= size <= 100:
                return self._amz_invalid("MaxResultsPerPage must be between 1 and 100")
            try:
                filters = {
                    "created_after": (filter_time(created_after, timezone.utc) or datetime.min.replace(
                        tzinfo=timezone.utc)).isoformat() if created_after else None,
                    "updated_after": filter_time(updated_after, timezone.utc).isoformat() if updated_after else None,
                    "updated_before": (filter_time(args.get("LastUpdatedBefore"), timezone.utc) or self.state.clock.now()
                                       ).isoformat(),
                    "statuses": [s for v in args.getlist("OrderStatuses") for s in v.split(",") if s],
                    "size": size,
                }
            except ValueError as exc:
                return self._amz_invalid(str(exc))
            after = 0
        with self.state.lock:
            matching = []
            for o in self.state.list_orders("amazon", shop):
                if o.marketplace_id not in marketplaces or o.seq <= after:
                    continue
                if filters["created_after"] and o.created_at < datetime.fromisoformat(filters["created_after"]):
                    continue
                if filters["updated_after"] and o.updated_at < datetime.fromisoformat(filters["updated_after"]):
                    continue
                if filters["statuses"] and render.amazon_status(o) not in filters["statuses"]:
                    continue
                matching.append(o)
            chunk = matching[: filters["size"]]
            restricted = self._restricted(request) is not None
            payload: dict[str, Any] = {"Orders": [_patched(o, render.amazon_order(o, restricted))
                                                  for o in chunk]}
        if len(matching) > len(chunk):
            payload["NextToken"] = encode_token({"f": filters, "after": chunk[-1].seq})
        if filters["updated_after"] is not None:
            payload["LastUpdatedBefore"] = render.amazon_time(datetime.fromisoformat(filters["updated_before"]))
        else:
            payload["CreatedBefore"] = render.amazon_time(datetime.fromisoformat(filters["updated_before"]))
        response = json_response({"payload": payload})
        response.next_page_key = payload.get("NextToken")
        return response

    def _amz_get(self, shop: str, oid: str) -> Optional[SimOrder]:
        return self.state.get_order("amazon", shop, oid)

    def amz_order(self, request: Request, shop: str, oid: str) -> Response:
        with self.state.lock:
            order = self._amz_get(shop, oid)
            if order is None:
                return json_response({"errors": [{"code": "NotFound", "message": f"Order {oid} not found",
                                                  "details": ""}]}, 404)
            restricted = self._restricted(request) is not None
            return json_response({"payload": _patched(order, render.amazon_order(order, restricted))})

    def amz_items(self, request: Request, shop: str, oid: str) -> Response:
        offset = 0
        if request.args.get("NextToken"):
            cursor = decode_token(request.args["NextToken"])
            if cursor is None or cursor.get("o") != oid:
                return self._amz_invalid("Invalid NextToken")
            offset = int(cursor["i"])
        with self.state.lock:
            order = self._amz_get(shop, oid)
            if order is None:
                return json_response({"errors": [{"code": "NotFound", "message": f"Order {oid} not found",
                                                  "details": ""}]}, 404)
            items = render.amazon_items(order)
            size = self.state.amazon_items_page_size
        payload: dict[str, Any] = {"AmazonOrderId": oid, "OrderItems": items[offset: offset + size]}
        if offset + size < len(items):
            payload["NextToken"] = encode_token({"o": oid, "i": offset + size})
        return json_response({"payload": payload})

    # -- Amazon: restricted data (v0) --------------------------------------------------------------
    def amz_rdt(self, request: Request, shop: str) -> Response:
        """Tokens API createRestrictedDataToken: an RDT for the restricted resources named."""
        try:
            body = json.loads(request.get_data(as_text=True) or "{}")
        except ValueError:
            return self._amz_invalid("The request body is not JSON")
        resources = body.get("restrictedResources") if isinstance(body, dict) else None
        if not isinstance(resources, list) or not resources or len(resources) > 50:
            return self._amz_invalid("restrictedResources must name 1 to 50 resources")
        granted = []
        for resource in resources:
            method, path = (resource or {}).get("method"), (resource or {}).get("path")
            elements = frozenset((resource or {}).get("dataElements") or [])
            if method != "GET" or not isinstance(path, str) or not _RESTRICTED_PATH.match(path):
                return self._amz_invalid(f"{method} {path} is not a restricted resource")
            if elements - {"buyerInfo", "shippingAddress", "buyerTaxInformation"}:
                return self._amz_invalid(f"unknown dataElements {sorted(elements)}")
            granted.append((method, path, elements))
        token = f"Atz.sprdt|sandbox-{secrets.token_urlsafe(24)}"
        with self.state.lock:
            self.state.rdt_tokens[token] = (time.monotonic() + 3600 * self.state.time_scale, granted)
        return json_response({"restrictedDataToken": token, "expiresIn": 3600})

    def _restricted(self, request: Request) -> Optional[list]:
        return request.environ.get("sandbox.rdt")

    def _rdt_required(self) -> Response:
        return json_response({"errors": [{"code": "Unauthorized", "message": "Access to requested resource is "
                                          "denied.", "details": "A Restricted Data Token is required."}]}, 403)

    def amz_address(self, request: Request, shop: str, oid: str) -> Response:
        if not self._restricted(request):
            return self._rdt_required()
        with self.state.lock:
            order = self._amz_get(shop, oid)
            if order is None:
                return json_response({"errors": [{"code": "NotFound", "message": f"Order {oid} not found",
                                                  "details": ""}]}, 404)
            return json_response({"payload": {"AmazonOrderId": oid,
                                              "ShippingAddress": render.amazon_address(order)}})

    def amz_buyer_info(self, request: Request, shop: str, oid: str) -> Response:
        if not self._restricted(request):
            return self._rdt_required()
        with self.state.lock:
            order = self._amz_get(shop, oid)
            if order is None:
                return json_response({"errors": [{"code": "NotFound", "message": f"Order {oid} not found",
                                                  "details": ""}]}, 404)
            return json_response({"payload": {"AmazonOrderId": oid, **render.amazon_buyer_info(order)}})

    # -- Amazon: Orders API 2026-01-01 --------------------------------------------------------------
    @staticmethod
    def _included(args) -> set:
        return {v for value in args.getlist("includedData") for v in value.split(",") if v}

    def amz_search(self, request: Request, shop: str) -> Response:
        args = request.args
        filter_keys = ("createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore",
                       "marketplaceIds", "fulfillmentStatuses", "fulfilledBy")
        asked = {k: ",".join(args.getlist(k)) for k in filter_keys if args.get(k)}
        after = 0
        token = args.get("paginationToken")
        if token:
            cursor = decode_token(token)
            if cursor is None or "f" not in cursor:
                return self._amz_invalid("Invalid paginationToken")
            with self.state.lock:
                expired = (cursor.get("g") != self.state.amazon_token_generation
                           or time.monotonic() > cursor.get("x", 0))
                if expired:
                    self.state.amazon_expired_tokens_served += 1
            if expired:
                return self._amz_invalid("The paginationToken has expired. Tokens are valid for 24 hours.")
            # every parameter but maxResultsPerPage and includedData must be sent again, unchanged
            if {k: v for k, v in cursor["f"].items() if k in filter_keys} != asked:
                return self._amz_invalid("The request parameters must match the request that produced the "
                                         "paginationToken")
            after = cursor["after"]
        created_after, updated_after = args.get("createdAfter"), args.get("lastUpdatedAfter")
        if bool(created_after) == bool(updated_after):
            return self._amz_invalid("Exactly one of createdAfter and lastUpdatedAfter is required")
        try:
            size = int(args.get("maxResultsPerPage", 100))
        except ValueError:
            return self._amz_invalid("maxResultsPerPage must be an integer")
        if not 1 <= size <= 100:
            return self._amz_invalid("maxResultsPerPage must be between 1 and 100")
        try:
            lower = filter_time(created_after or updated_after, timezone.utc)
            upper = filter_time(args.get("createdBefore") or args.get("lastUpdatedBefore"), timezone.utc)
        except ValueError as exc:
            return self._amz_invalid(str(exc))
        from .state import AMAZON_REGIONS, PAGINATION_TOKEN_SECONDS

        marketplaces = asked.get("marketplaceIds", "").split(",") if asked.get("marketplaceIds") else [
            m for m, _, _ in AMAZON_REGIONS.get(shop, [])]
        statuses = asked.get("fulfillmentStatuses", "").split(",") if asked.get("fulfillmentStatuses") else []
        fulfilled_by = asked.get("fulfilledBy", "").split(",") if asked.get("fulfilledBy") else []
        included = self._included(args)
        with self.state.lock:
            upper = upper or self.state.clock.now()
            matching = []
            for o in self.state.list_orders("amazon", shop):
                stamp = o.created_at if created_after else o.updated_at
                if o.marketplace_id not in marketplaces or o.seq <= after or stamp < lower or stamp > upper:
                    continue
                if statuses and render.AMAZON_2026_STATUS[render.amazon_status(o)] not in statuses:
                    continue
                if fulfilled_by and ("AMAZON" if o.fba else "MERCHANT") not in fulfilled_by:
                    continue
                matching.append(o)
            chunk = matching[:size]
            body: dict[str, Any] = {"orders": [render.amazon_order_2026(o, included, self.state.amazon_pii_role)
                                               for o in chunk]}
            generation, scale = self.state.amazon_token_generation, self.state.time_scale
        if len(matching) > len(chunk):
            body["pagination"] = {"nextToken": encode_token({
                "f": asked, "after": chunk[-1].seq, "g": generation,
                "x": time.monotonic() + PAGINATION_TOKEN_SECONDS * scale})}
        body["createdBefore" if created_after else "lastUpdatedBefore"] = render.amazon_time(upper)
        response = json_response(body)
        response.next_page_key = (body.get("pagination") or {}).get("nextToken")
        return response

    def amz_get(self, request: Request, shop: str, oid: str) -> Response:
        with self.state.lock:
            order = self._amz_get(shop, oid)
            if order is None:
                return json_response({"errors": [{"code": "NotFound", "message": f"Order {oid} not found",
                                                  "details": ""}]}, 404)
            return json_response({"order": render.amazon_order_2026(order, self._included(request.args),
                                                                    self.state.amazon_pii_role)})

    def amz_listings(self, request: Request, shop: str, seller_id: str) -> Response:
        """Listings Items API 2021-08-01 searchListingsItems: the seller's listings, 20 a page."""
        args = request.args
        marketplaces = [m for value in args.getlist("marketplaceIds") for m in value.split(",") if m]
        if not marketplaces:
            return self._amz_invalid("Missing required parameter: marketplaceIds")
        try:
            size = int(args.get("pageSize", 10))
        except ValueError:
            return self._amz_invalid("pageSize must be an integer")
        if not 1 <= size <= 20:
            return self._amz_invalid("pageSize must be between 1 and 20")
        start = 0
        if args.get("pageToken"):
            cursor = decode_token(args["pageToken"])
            if cursor is None or "i" not in cursor:
                return self._amz_invalid("Invalid pageToken")
            start = int(cursor["i"])
        included = {v for value in args.getlist("includedData") for v in value.split(",") if v} or {"summaries"}
        items = [(p, v) for p in self.state.channel_products("amazon", shop) for v in p["variants"]]
        chunk = items[start:start + size]
        body: dict[str, Any] = {"numberOfResults": len(items), "items": []}
        for product, variant in chunk:
            item: dict[str, Any] = {"sku": variant["sku"]}
            if "summaries" in included:
                item["summaries"] = [{"marketplaceId": marketplaces[0], "asin": variant["asin"],
                                      "productType": product["product_type"], "conditionType": "new_new",
                                      "status": ["BUYABLE", "DISCOVERABLE"], "itemName": variant["title"]
                                      if len(product["variants"]) > 1 else product["title"],
                                      "createdDate": product["updated_at"], "lastUpdatedDate": product["updated_at"]}]
            if "fulfillmentAvailability" in included:
                item["fulfillmentAvailability"] = self.amazon_availability(shop, variant["sku"])
            body["items"].append(item)
        if start + size < len(items):
            body["pagination"] = {"nextToken": encode_token({"i": start + size})}
        return json_response(body)

    def amz_participations(self, request: Request, shop: str) -> Response:
        from .state import AMAZON_REGIONS

        return json_response({"payload": [
            {"marketplace": {"id": mid, "countryCode": country, "name": name, "defaultCurrencyCode": "",
                             "defaultLanguageCode": "", "domainName": name.lower()},
             "participation": {"isParticipating": True, "hasSuspendedListings": False}}
            for mid, country, name in AMAZON_REGIONS.get(shop, [])]})


_AUTH_PARAMS = ("consumer_key", "consumer_secret")

SHOPIFY_VERSIONS = ("2026-01", "2026-04", "2026-07", "2026-10")  # supported in December 2026


def served_shopify_version(asked: str) -> str:
    return asked if asked in SHOPIFY_VERSIONS else SHOPIFY_VERSIONS[0]


AMAZON_OPERATIONS = {
    "amz_orders": "getOrders", "amz_order": "getOrder", "amz_items": "getOrderItems",
    "amz_participations": "getMarketplaceParticipations", "amz_address": "getOrderAddress",
    "amz_buyer_info": "getOrderBuyerInfo", "amz_rdt": "createRestrictedDataToken",
    "amz_search": "searchOrders", "amz_get": "getOrder2026", "amz_listings": "searchListingsItems",
    **write_api.OPERATIONS,
    **reports.OPERATIONS,
}

# what a Restricted Data Token may name: the v0 operations that return PII ({orderId}: any order)
_RESTRICTED_PATH = re.compile(r"^/orders/v0/orders(/([^/]+|\{orderId\})(/(address|buyerInfo|orderItems|"
                              r"orderItems/buyerInfo))?)?$")


def _api_path(request: Request) -> str:
    """The SP-API path of a sandbox request (without /amazon/<region>)."""
    parts = request.path.split("/", 3)
    return "/" + parts[3] if len(parts) > 3 else "/"


def _rdt_covers(resources: list, method: str, path: str) -> bool:
    for granted_method, granted_path, _elements in resources:
        if granted_method != method:
            continue
        pattern = "^" + re.escape(granted_path).replace(re.escape("{orderId}"), "[^/]+") + "$"
        if re.match(pattern, path):
            return True
    return False


def _woo_page_key(args, page: int) -> str:
    kept = sorted((k, v) for k, v in args.items(multi=True)
                  if k != "page" and not k.startswith("oauth_") and k not in _AUTH_PARAMS)
    return json.dumps([kept, page])


def _page_key(endpoint: str, args) -> Optional[str]:
    """Identifies which page a list request asks for (to find the page before it)."""
    if endpoint == "shopify_orders":
        return args.get("page_info")
    if endpoint == "amz_orders":
        return args.get("NextToken")
    if endpoint == "amz_search":
        return args.get("paginationToken")
    try:
        return _woo_page_key(args, int(args.get("page", 1) or 1))
    except ValueError:
        return None


def create_sandbox_app(catalog: Optional[list[dict]] = None, seed: int = 0, *,
                       start_time: Optional[datetime] = None, credentials: Optional[dict] = None,
                       time_scale: float = 1.0) -> SandboxApp:
    """A WSGI app simulating the Shopify, WooCommerce and Amazon SP-API order APIs.

    ``start_time`` fixes the virtual clock (fully deterministic); without it times follow the wall
    clock. The state is at ``app.state`` (:class:`SandboxState`).
    """
    state = SandboxState(catalog=catalog, seed=seed, start_time=start_time, credentials=credentials)
    state.set_time_scale(time_scale)
    _quiet_server_log()
    return SandboxApp(state)


def _quiet_server_log() -> None:
    """The dev server's access log prints query strings (OAuth consumer keys): redact them."""
    import logging

    from ..http import RedactingFilter

    server_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactingFilter) for f in server_log.filters):
        server_log.addFilter(RedactingFilter())
