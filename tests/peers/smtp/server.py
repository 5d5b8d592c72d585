"""A throw-away SMTP server on loopback for the support desk's tests (scripts/peers/smtp.sh).

aiosmtpd's own SMTP implementation, plain text, no authentication. Every message it accepts
is written whole (as received, with the envelope in two headers of its own) to
$SMTP_DIR/messages/<n>.eml: first to a temporary name, then renamed, so a reader never sees
half a message. It prints `ready <port>` once it listens and ends when its standard input
ends (the process that started it went away).
"""

import asyncio
import os
import sys
import threading

from aiosmtpd.controller import Controller


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


def main():
    base = os.environ["SMTP_DIR"]
    messages = os.path.join(base, "messages")
    os.makedirs(messages, exist_ok=True)
    port = int(os.environ.get("SMTP_PORT", "0"))
    controller = Controller(Keep(messages), hostname="127.0.0.1", port=port or 0)
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
