"""The sandbox's Amazon Reports API 2021-06-30, for the returns report only
(``GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE``): ``createReport`` (202, a report id),
``getReport`` (``IN_QUEUE``, then ``IN_PROGRESS``, then ``DONE`` with a document id — a client
really waits; ``CANCELLED`` when nothing was returned in its window, as Amazon does),
``getReportDocument`` (a URL on the sandbox, no auth, like S3's presigned one). The rows are
the returns a test asked for with ``request_return``, one per item, in the tab-delimited
columns of Amazon's "Returns reports attributes" page. Mixed into ``SandboxApp``."""
from __future__ import annotations

import csv
import io
import secrets
from datetime import datetime, timezone
from typing import Optional

from werkzeug.wrappers import Request, Response

from .state import SandboxState, SimOrder

REPORTS = "/amazon/<shop>/reports/2021-06-30"
RETURNS_REPORT = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"
COLUMNS = ("Order ID", "Order date", "Return request date", "Return request status", "Amazon RMA ID",
           "Merchant RMA ID", "Label type", "Label cost", "Currency code", "Return carrier", "Tracking ID",
           "Label to be paid by", "A-to-Z Claim", "Is prime", "ASIN", "Merchant SKU", "Item Name",
           "Return quantity", "Return Reason", "In policy", "Return type", "Resolution", "Invoice number",
           "Return delivery date", "Order Amount", "Order quantity", "SafeT Action reason", "SafeT claim id",
           "SafeT claim state", "SafeT claim creation time", "SafeT claim reimbursement amount",
           "Refunded Amount")
OPERATIONS = {"amz_create_report": "createReport", "amz_get_report": "getReport",
              "amz_get_report_document": "getReportDocument"}


def rules():
    from werkzeug.routing import Rule

    return [Rule(f"{REPORTS}/reports", endpoint="amz_create_report", methods=["POST"]),
            Rule(f"{REPORTS}/reports/<report_id>", endpoint="amz_get_report", methods=["GET"]),
            Rule(f"{REPORTS}/documents/<doc_id>", endpoint="amz_get_report_document", methods=["GET"])]


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def request_return(state: SandboxState, order: SimOrder, sku: str, quantity: int = 1, *,
                   reason: str = "APPAREL_TOO_SMALL", status: str = "Approved", rma_id: Optional[str] = None,
                   tracking_number: Optional[str] = None, carrier: str = "UPS") -> str:
    """A buyer asks Amazon to return units of an item (tests); answers the RMA id. Several
    items of one RMA: call again with its ``rma_id``."""
    with state.lock:
        line = next(line for line in order.lines if line.sku == sku)
        rma_id = rma_id or f"D{secrets.token_hex(5).upper()}RMA"
        state.amazon_returns.append({
            "shop": order.shop, "requested_at": state.clock.now(), "Order ID": order.external_id,
            "Order date": _iso(order.created_at), "Return request status": status, "Amazon RMA ID": rma_id,
            "Label type": "AmazonUnPaidLabel", "Currency code": order.currency, "Return carrier": carrier,
            "Tracking ID": tracking_number or f"1ZRET{secrets.token_hex(5).upper()}",
            "Label to be paid by": "Customer", "A-to-Z Claim": "N", "Is prime": "N", "ASIN": f"B0{line.line_id:08d}",
            "Merchant SKU": sku, "Item Name": line.name, "Return quantity": str(quantity), "Return Reason": reason,
            "In policy": "Y", "Return type": "C-Returns", "Resolution": "StandardRefund",
            "Order quantity": str(line.quantity)})
    return rma_id


def _tsv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_iso(row["requested_at"]) if c == "Return request date" else row.get(c, "")
                         for c in COLUMNS])
    return out.getvalue().encode()


class ReportsApi:
    """Needs ``self.state``, ``self.respond`` and ``self._amz_error`` (write_api.WriteApi's)."""

    def amz_create_report(self, request: Request, shop: str) -> Response:
        import json

        try:
            body = json.loads(request.get_data(as_text=True) or "null")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not body.get("reportType") or not body.get("marketplaceIds"):
            return self._amz_error("InvalidInput", "reportType and marketplaceIds are required")
        if body["reportType"] != RETURNS_REPORT:
            return self._amz_error("InvalidInput", f"the sandbox makes no {body['reportType']} report")
        from .app import filter_time  # noqa: PLC0415 - the app's time parsing

        try:
            start = filter_time(body.get("dataStartTime"), timezone.utc)
            end = filter_time(body.get("dataEndTime"), timezone.utc)
        except ValueError as exc:
            return self._amz_error("InvalidInput", str(exc))
        with self.state.lock:
            report_id = str(70_000_000_000 + len(self.state.reports) + 1)
            self.state.reports[report_id] = {
                "reportId": report_id, "reportType": RETURNS_REPORT, "marketplaceIds": body["marketplaceIds"],
                "dataStartTime": body.get("dataStartTime"), "dataEndTime": body.get("dataEndTime"),
                "createdTime": _iso(self.state.clock.now()), "processingStatus": "IN_QUEUE",
                "shop": shop, "window": (start, end)}
        return self.respond({"reportId": report_id}, 202)

    def amz_get_report(self, request: Request, shop: str, report_id: str) -> Response:
        with self.state.lock:
            report = self.state.reports.get(report_id)
            if report is None or report["shop"] != shop:
                return self._amz_error("NotFound", f"report {report_id} not found", 404)
            if report["processingStatus"] == "IN_QUEUE":
                report["processingStatus"] = "IN_PROGRESS"  # the next look finds it done
            elif report["processingStatus"] == "IN_PROGRESS":
                self._make_report(report)
            view = {k: v for k, v in report.items() if k not in ("shop", "window")}
        return self.respond(view)

    def _make_report(self, report: dict) -> None:
        start, end = report["window"]
        rows = [r for r in self.state.amazon_returns if r["shop"] == report["shop"]
                and (start is None or r["requested_at"] >= start) and (end is None or r["requested_at"] <= end)]
        report["processingEndTime"] = _iso(self.state.clock.now())
        if not rows:
            report["processingStatus"] = "CANCELLED"
            return
        doc_id = f"amzn1.spdoc.1.4.eu.{secrets.token_hex(8)}"
        self.state.feed_documents[doc_id] = {"content_type": "text/tab-separated-values; charset=UTF-8",
                                             "content": _tsv(rows)}
        report["processingStatus"], report["reportDocumentId"] = "DONE", doc_id

    def amz_get_report_document(self, request: Request, shop: str, doc_id: str) -> Response:
        with self.state.lock:
            if doc_id not in self.state.feed_documents:
                return self._amz_error("NotFound", f"report document {doc_id} not found", 404)
        return self.respond({"reportDocumentId": doc_id, "url": f"{request.host_url}amazon/_documents/{doc_id}"})
