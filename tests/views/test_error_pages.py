"""Error pages in the app's layout (navbar, search box, styles), JSON under /api/."""
from __future__ import annotations


def test_unknown_page_is_a_404_in_the_layout(client_for):
    response = client_for("viewer").get("/no-such-page/")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Page not found" in html and "oms-error-page" in html
    assert "oms-navbar" in html and 'name="q"' in html  # the app's own layout
    anonymous = client_for(None).get("/no-such-page/")
    assert anonymous.status_code == 404 and "Page not found" in anonymous.get_data(as_text=True)


def test_a_page_the_role_may_not_open_is_a_403_in_the_layout(client_for):
    response = client_for("warehouse").get("/review/list/")
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "You may not open this page" in html and "oms-navbar" in html


def test_missing_record_and_api_paths(client_for, api_headers):
    client = client_for("viewer")
    assert "Page not found" in client.get("/orders/show/999999").get_data(as_text=True)
    response = client.get("/api/v1/no-such-thing/", headers=api_headers("viewer"))
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"
