"""The Content Security Policy holds on the app's own pages: an admin walks every main
page in a real headless Chromium and no page logs a CSP violation (FAB's inline scripts
carry the nonce; Waybill's scripts are files) — and the scripts the pages need did run."""
from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, is_postgres

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not is_postgres(), reason="browser tests run on PostgreSQL")]

# Collected before any page script runs (init scripts are not subject to the page's CSP).
LISTEN = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sourceFile || ''));
});
"""

PAGES = [
    "/dashboard/", "/orders/list/", "/orders/show/{order}", "/orders/{order}/address",
    "/review/list/", "/customers/list/", "/customers/show/{customer}", "/search?q=ada",
    "/shipments/list/", "/pick-lists/list/", "/returns/list/", "/refunds/list/",
    "/stock/list/", "/stock/adjust", "/stock-movements/list/", "/warehouses/list/",
    "/warehouses/add", "/products/list/", "/products/edit/{product}", "/sku-aliases/list/",
    "/channels/list/", "/channels/show/{channel}", "/channels/edit/{channel}",
    "/sync-runs/list/", "/sync-conflicts/list/", "/settings/", "/exchange-rates/list/",
    "/rules/list/", "/rules/add/", "/audit-log/list/", "/users/list/", "/users/add",
    "/roles/list/", "/api-keys/", "/swagger/v1",
]


def sign_in(page, live_server, username):
    page.goto(f"{live_server}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD.format(role=username))
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url


def test_no_page_logs_a_csp_violation(live_server, page, make):
    warehouse = make.warehouse("EWR", "US")
    product = make.product("MUG-1", stock={warehouse: 5})
    channel = make.channel("shopify-us")
    order = make.order(channel, [("MUG-1", 2, "12.50")], email="ada@example.com", name="Ada")
    ids = {"order": order.id, "customer": order.customer_id, "product": product.id,
           "channel": channel.id}

    messages, errors = [], []
    page.on("console", lambda msg: messages.append(f"{page.url}: {msg.text}")
            if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda err: errors.append(f"{page.url}: {err}"))
    page.add_init_script(LISTEN)

    page.goto(f"{live_server}/login/")
    page.wait_for_load_state("networkidle")
    violations = [f"/login/: {v}" for v in page.evaluate("window.__csp")]
    sign_in(page, live_server, "admin")

    for template in PAGES:
        url = template.format(**ids)
        # "load": every script of the page has run; Swagger UI fetches the spec after.
        response = page.goto(f"{live_server}{url}",
                             wait_until="networkidle" if "swagger" in url else "load")
        assert response.status == 200, url
        violations += [f"{url}: {v}" for v in page.evaluate("window.__csp")]
        # FAB's nonce'd scripts ran (jQuery, its list/filter scripts), so the policy
        # blocks what it should and not what the pages need.
        assert page.evaluate("typeof window.jQuery") == "function", url

    csp_console = [m for m in messages if "Content Security Policy" in m or "Refused to" in m]
    assert not violations, "\n".join(violations)
    assert not csp_console, "\n".join(csp_console)
    assert not errors, "\n".join(errors)


def test_a_page_may_not_be_framed(live_server, page):
    response = page.goto(f"{live_server}/login/")
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
