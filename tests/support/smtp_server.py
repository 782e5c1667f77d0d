"""A real SMTP server for the e-mail tests (aiosmtpd, from PyPI).

Usage: smtp_server.py DIR. Listens on 127.0.0.1 at a free port, prints the port on its
first line, requires AUTH (user "sevbot", password "s3cret") before MAIL, and stores each
message as DIR/<n>.json: the envelope, and the headers and body as Python's own e-mail
parser reads them, so the test checks what a mail client would see, not lettre's bytes.
A file DIR/fail makes the next message be refused with 451 (a temporary failure).
"""

import json
import os
import socket
import sys
import time
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

OUT = sys.argv[1]


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"sevbot"
        and auth_data.password == b"s3cret"
    )
    return AuthResult(success=ok)


class Store:
    count = 0

    async def handle_DATA(self, server, session, envelope):
        flag = os.path.join(OUT, "fail")
        if os.path.exists(flag):
            os.remove(flag)
            return "451 4.3.0 Try again later"
        msg = message_from_bytes(envelope.original_content, policy=policy.default)
        Store.count += 1
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "authenticated": session.authenticated,
            # As sent (RFC 2047 encoded words for non-ASCII), and as a client shows it.
            "raw_subject": str(message_from_bytes(envelope.original_content)["Subject"]),
            "subject": str(msg["Subject"]),
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "message_id": str(msg["Message-ID"]),
            "in_reply_to": msg["In-Reply-To"] and str(msg["In-Reply-To"]),
            "references": msg["References"] and str(msg["References"]),
            "date": str(msg["Date"]),
            "content_type": msg.get_content_type(),
            "charset": msg.get_content_charset(),
            "body": msg.get_content(),
        }
        tmp = os.path.join(OUT, f".{Store.count}.tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(OUT, f"{Store.count:04}.json"))
        return "250 OK"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


port = free_port()
controller = Controller(
    Store(),
    hostname="127.0.0.1",
    port=port,
    authenticator=authenticator,
    auth_required=True,
    auth_require_tls=False,
)
controller.start()
print(port, flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()
