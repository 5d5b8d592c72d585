"""A throw-away SMTP server on loopback for the support desk's tests (scripts/peers/smtp.sh).

aiosmtpd's own SMTP implementation: plain text without authentication by default; with
SMTP_TLS=starttls (STARTTLS required before anything else) or SMTP_TLS=tls (TLS from the
first byte) it serves the certificate and key in SMTP_CERT and SMTP_KEY, and with SMTP_USER
and SMTP_PASSWORD it requires AUTH (PLAIN or LOGIN, only over TLS) with them and nothing
else. Every message it accepts is written whole (as received, with the envelope in two headers of its own) to
$SMTP_DIR/messages/<n>.eml: first to a temporary name, then renamed, so a reader never sees
half a message. It prints `ready <port>` once it listens and ends when its standard input
ends (the process that started it went away).
"""

import hmac
import os
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Keep:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        head = (
            f"X-Peer-Mail-From: {envelope.mail_from}\r\n"
            f"X-Peer-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        tmp = os.path.join(self.directory, f".{n}.tmp")
        with open(tmp, "wb") as f:
            f.write(head + envelope.original_content)
        os.rename(tmp, os.path.join(self.directory, f"{n:06}.eml"))
        return "250 Message accepted for delivery"


def authenticator():
    """Accepts exactly SMTP_USER with SMTP_PASSWORD (compared in constant time)."""
    want_user = os.environ["SMTP_USER"].encode()
    want_password = os.environ["SMTP_PASSWORD"].encode()

    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and hmac.compare_digest(auth_data.login, want_user)
            and hmac.compare_digest(auth_data.password, want_password)
        )
        return AuthResult(success=ok, handled=False)

    return check


def options():
    """The Controller's keyword arguments for SMTP_TLS, SMTP_CERT, SMTP_KEY, SMTP_USER."""
    mode = os.environ.get("SMTP_TLS", "none")
    kwargs = {}
    if mode in ("starttls", "tls"):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(os.environ["SMTP_CERT"], os.environ["SMTP_KEY"])
        if mode == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        else:
            kwargs.update(ssl_context=context)
    elif mode != "none":
        raise SystemExit(f"SMTP_TLS must be none, starttls or tls, not {mode!r}")
    if os.environ.get("SMTP_USER"):
        # With TLS from the first byte the whole session is encrypted, but aiosmtpd 1.4
        # only counts a STARTTLS upgrade as TLS: it would not offer AUTH at all.
        kwargs.update(
            authenticator=authenticator(),
            auth_required=True,
            auth_require_tls=mode != "tls",
        )
    return kwargs


def main():
    base = os.environ["SMTP_DIR"]
    messages = os.path.join(base, "messages")
    os.makedirs(messages, exist_ok=True)
    port = int(os.environ.get("SMTP_PORT", "0"))
    controller = Controller(
        Keep(messages), hostname="127.0.0.1", port=port or 0, **options()
    )
    if port == 0:
        # aiosmtpd needs a port; take a free one from the kernel first.
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            controller.port = s.getsockname()[1]
    controller.start()
    print(f"ready {controller.port}", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
