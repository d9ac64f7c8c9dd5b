#!/usr/bin/env python3
"""A real SMTP server for the test suite and the email benchmark.

Listens on 127.0.0.1:PORT and writes each accepted message to DIR as <uuid>.eml
(written to a temp name, fsynced, then renamed, so readers never see half a file), and the
client's address and port of the connection it came on as a line of DIR/connections.log.
Recipients whose local part starts with "reject" get a permanent 550, and those
starting with "tempfail" a transient 451. With --slow-first N --delay S, the first N mail
transactions answer MAIL, RCPT and DATA each S seconds late (a slow server, within any one
command's timeout but not within a short lease). Prints READY once it is listening.
"""
import asyncio
import argparse
import os
import signal
import threading
import uuid

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out, slow_first=0, delay=0.0):
        self.out = out
        self.slow_left = slow_first
        self.delay = delay

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        session.slow = self.slow_left > 0
        self.slow_left -= 1
        await self.lag(session)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def lag(self, session):
        if getattr(session, "slow", False):
            await asyncio.sleep(self.delay)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await self.lag(session)
        local = address.split("@")[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 No such user here"
        if local.startswith("tempfail"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        await self.lag(session)
        name = uuid.uuid4().hex
        tmp = os.path.join(self.out, f".{name}.tmp")
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        with open(tmp, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(self.out, f"{name}.eml"))
        with open(os.path.join(self.out, "connections.log"), "a") as log:
            log.write(f"{session.peer[0]}:{session.peer[1]}\n")
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--slow-first", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    sink = Sink(args.dir, args.slow_first, args.delay)
    controller = Controller(sink, hostname="127.0.0.1", port=args.port)
    controller.start()
    print("READY", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()
