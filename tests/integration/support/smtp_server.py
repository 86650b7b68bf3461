#!/usr/bin/python3
"""A real SMTP server for the e-mail tests: Debian's python3-aiosmtpd on 127.0.0.1.

Each accepted message is written to OUT_DIR/<n>.eml as received, after four lines the test
reads: X-Test-Envelope-From, X-Test-Envelope-To, X-Test-Tls (yes/no: did the client upgrade
with STARTTLS) and X-Test-Auth (the authenticated user, or '-'). Options:
  --tls-cert/--tls-key  offer STARTTLS with this certificate
  --user/--password     require AUTH (PLAIN or LOGIN, only after STARTTLS) with these
  --reject ADDRESS      answer RCPT TO:<ADDRESS> with 550 (a permanent refusal)
  --fail-first N        answer the first N DATA commands with 451 (a transient failure)
Prints "ready" on stdout once it accepts connections; runs until SIGTERM.
"""
import argparse
import itertools
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, out_dir, reject, fail_first):
        self.out_dir = out_dir
        self.reject = set(reject)
        self.fail_left = fail_first
        # After a restart on the same directory, numbering goes on.
        done = [name for name in os.listdir(out_dir) if name.endswith(".eml")]
        self.numbers = itertools.count(len(done) + 1)
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.fail_left > 0:
                self.fail_left -= 1
                return "451 4.3.0 try again later"
            number = next(self.numbers)
        user = session.auth_data.login.decode() if session.authenticated else "-"
        head = (
            f"X-Test-Envelope-From: {envelope.mail_from}\r\n"
            f"X-Test-Envelope-To: {','.join(envelope.rcpt_tos)}\r\n"
            f"X-Test-Tls: {'yes' if session.ssl else 'no'}\r\n"
            f"X-Test-Auth: {user}\r\n"
        ).encode()
        path = os.path.join(self.out_dir, f"{number}.eml")
        with open(path + ".tmp", "wb") as out:
            out.write(head + envelope.original_content)
        os.rename(path + ".tmp", path)  # the test never reads half a message
        return "250 2.0.0 accepted"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--reject", action="append", default=[])
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()

    kwargs = {}
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        kwargs["tls_context"] = context
    if args.user:
        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login.decode() == args.user
                  and auth_data.password.decode() == args.password)
            return AuthResult(success=ok, handled=False, auth_data=auth_data)
        kwargs.update(authenticator=authenticate, auth_required=True, auth_require_tls=True)

    handler = Handler(args.out_dir, args.reject, args.fail_first)
    controller = Controller(handler, hostname="127.0.0.1", port=args.port, **kwargs)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
