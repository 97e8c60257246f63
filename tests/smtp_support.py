"""A real SMTP server on 127.0.0.1 for the customer mail tests and bench/notify.py: aiosmtpd
with STARTTLS (a self-signed certificate made here) and AUTH, recording every mail it
accepted (parsed back with the stdlib ``email``). Scripted answers per Message-ID order of
arrival: ``"421"`` (try later), ``"550"`` (refused for good) or ``"kill"`` (accept, record,
then SIGKILL the sender before it can commit: the outbox's "once" for mails)."""
from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import ssl
import tempfile
import threading
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

USER, PASSWORD = "waybill", "s3cret-pass"


def self_signed(directory: str) -> tuple[str, str]:
    """(certificate, key) files for 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Handler:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def handle_DATA(self, smtp, session, envelope):
        return self.server.receive(envelope)


class SmtpServer:
    def __init__(self, *, tls: bool = True, auth: bool = True):
        self.lock = threading.Lock()
        self.accepted: list = []  # parsed EmailMessage objects, in arrival order
        self.rcpt: list[list[str]] = []
        self.count = 0  # every DATA, accepted or not
        self.script: list[str] = []  # answers for the next DATAs
        self.kill_pid: int | None = None
        self.kills = 0
        self.logins = 0
        self.tls = tls
        self.directory = tempfile.mkdtemp(prefix="waybill-smtp-")
        kwargs = {}
        if tls:
            self.cafile, key = self_signed(self.directory)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.cafile, key)
            kwargs.update(tls_context=context, require_starttls=True)
        if auth:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=tls)
        self.port = _free_port()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                     ready_timeout=10, **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
        if ok:
            self.logins += 1
        return AuthResult(success=ok)

    def start(self) -> "SmtpServer":
        # aiosmtpd's readiness probe speaks plain SMTP; STARTTLS is offered after it
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def url(self, user: str = USER, password: str = PASSWORD) -> str:
        if not self.tls:
            return f"smtp://127.0.0.1:{self.port}"
        return (f"smtp+starttls://{user}:{password}@127.0.0.1:{self.port}"
                f"?cafile={self.cafile}&timeout=5")

    def receive(self, envelope) -> str:
        with self.lock:
            self.count += 1
            answer = self.script.pop(0) if self.script else None
        if answer == "421":
            return "421 4.3.2 try again later"
        if answer == "550":
            return "550 5.1.1 no such mailbox here"
        mail = message_from_bytes(envelope.original_content or envelope.content,
                                  policy=policy.default)
        with self.lock:
            self.accepted.append(mail)
            self.rcpt.append(list(envelope.rcpt_tos))
        if answer == "kill" and self.kill_pid:
            os.kill(self.kill_pid, signal.SIGKILL)
            self.kills += 1
        return "250 2.0.0 accepted"
