"""Network label printers: a ZPL document sent as raw bytes over TCP, the way Zebra (and most
thermal) printers take print jobs on port 9100 ("raw" or "JetDirect" printing). The printer
answers nothing: a job counts as delivered once every byte was written and the connection
closed cleanly.

What a caller gets back: nothing, or ``PrinterUnreachable`` (refused, unreachable, timed out,
the connection dropped mid-job): worth trying again later, the job may have printed in part.
"""
from __future__ import annotations

import socket

DEFAULT_TIMEOUT = 10.0  # seconds to connect and to write


class PrinterUnreachable(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def send_raw(address: str, document: bytes, *, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Send ``document`` to the printer at ``address`` ("host:port")."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as conn:
            conn.sendall(document)
            conn.shutdown(socket.SHUT_WR)  # the job ends here: the printer starts on it
    except OSError as exc:
        raise PrinterUnreachable(f"printer {address}: {exc.strerror or exc}") from None
