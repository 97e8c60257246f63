"""Amazon returns, read from the channel (mixed into ``AmazonConnector``): Amazon runs the
returns of its orders (the buyer asks on Amazon, Amazon authorizes and gives the label), so
Waybill reads them to expect the parcels. Reports API 2021-06-30: ``createReport`` of
``GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE`` (at most 60 days a report), ``getReport`` until
``DONE``, ``getReportDocument`` (a URL) and the tab-delimited file: one row per returned item,
with the columns of Amazon's "Returns reports attributes" page (Order ID, Amazon RMA ID,
Return request date, Return request status, Merchant SKU, Return quantity, Return Reason,
Tracking ID, Return carrier, ...).
"""
from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

from .errors import ChannelError, InvalidPayload
from .http import make_session
from .parsing import parse_time

REPORTS = "/reports/2021-06-30"
RETURNS_REPORT = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"
MAX_DAYS = 60  # Amazon's limit per returns report
REPORT_LOOKS = 20  # getReport asked this often before the read gives up (the job tries again)
REPORT_WAIT_SECONDS = 15.0  # between two looks (scaled by time_scale)


@dataclass(frozen=True)
class ChannelReturnItem:
    """One returned item of the report."""
    order_external_id: str
    rma_id: str
    requested_at: Optional[datetime]
    status: str  # Amazon's "Return request status" (Approved, Authorized, Closed, ...)
    sku: str
    quantity: int
    reason: str  # Amazon's reason code (APPAREL_TOO_SMALL, DEFECTIVE, ...)
    tracking_number: Optional[str]
    carrier: Optional[str]


def _text(row: dict, column: str) -> str:
    return (row.get(column) or "").strip()


def _time(value: str) -> Optional[datetime]:
    try:
        return parse_time(value) if value else None
    except InvalidPayload:
        return None  # a date Amazon writes another way: the import time stands in


def parse_returns_report(content: bytes) -> list[ChannelReturnItem]:
    """The report's rows (tab-delimited, a header line); a row without an order, RMA or SKU
    is skipped."""
    text = content.decode("utf-8-sig", errors="replace")
    items = []
    for row in csv.DictReader(io.StringIO(text), delimiter="\t"):
        order_id, rma, sku = _text(row, "Order ID"), _text(row, "Amazon RMA ID"), _text(row, "Merchant SKU")
        if not (order_id and rma and sku):
            continue
        try:
            quantity = int(_text(row, "Return quantity") or "1")
        except ValueError:
            quantity = 1
        items.append(ChannelReturnItem(
            order_id, rma, _time(_text(row, "Return request date")), _text(row, "Return request status"),
            sku, max(quantity, 0), _text(row, "Return Reason"), _text(row, "Tracking ID") or None,
            _text(row, "Return carrier") or None))
    return items


class AmazonReturns:
    """Needs ``base_url``, ``_call``, ``_write``, ``marketplace_ids`` and ``time_scale``."""

    def fetch_returns(self, since: datetime, until: Optional[datetime] = None) -> list[ChannelReturnItem]:
        """The returns requested from ``since`` (at most MAX_DAYS back) to ``until``."""
        until = until or datetime.now(timezone.utc)
        since = max(since, until - timedelta(days=MAX_DAYS))
        report = self._write("POST", f"{REPORTS}/reports", "createReport", {
            "reportType": RETURNS_REPORT, "marketplaceIds": self.marketplace_ids,
            "dataStartTime": since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "dataEndTime": until.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})
        document_id = self._report_document(str(report["reportId"]))
        if document_id is None:
            return []
        document = self._call(f"{REPORTS}/documents/{document_id}", "getReportDocument")
        if document.get("compressionAlgorithm"):
            import gzip

            content = gzip.decompress(self._download(document["url"]))
        else:
            content = self._download(document["url"])
        return parse_returns_report(content)

    def _report_document(self, report_id: str) -> Optional[str]:
        """The report's document once Amazon made it; None when it had nothing to report."""
        for look in range(REPORT_LOOKS):
            report = self._call(f"{REPORTS}/reports/{report_id}", "getReport")
            status = report.get("processingStatus")
            if status == "DONE":
                return report.get("reportDocumentId")
            if status == "CANCELLED":  # Amazon cancels a report that has no data
                return None
            if status == "FATAL":
                raise ChannelError(f"amazon: returns report {report_id} failed", channel="amazon")
            if look + 1 < REPORT_LOOKS:
                time.sleep(REPORT_WAIT_SECONDS * self.time_scale)
        raise ChannelError(f"amazon: returns report {report_id} is not ready yet", channel="amazon")

    def _download(self, url: str) -> bytes:
        # a presigned URL: no SP-API token (it would be refused), retried on its own
        return make_session("amazon-download", max_retries=3, time_scale=self.time_scale).get(url).content
