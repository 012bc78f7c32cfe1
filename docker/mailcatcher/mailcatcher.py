"""Local mail catcher: SMTP on :1025 keeps messages in memory; HTTP on :8025 shows them.

GET /                  HTML list of messages, newest first
GET /messages/<id>     one message, raw (text/plain)
GET /api/messages      JSON list: id, from, to, subject, date, text (the plain-text body)
DELETE /api/messages   forget every message
GET /healthz           200 when both servers run
"""

import email
import email.policy
import html
import itertools
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

LIMIT = int(os.environ.get("MAILCATCHER_LIMIT", "1000"))
messages = []  # newest last
lock = threading.Lock()
ids = itertools.count(1)


class Catcher:
    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        body = parsed.get_body(preferencelist=("plain",))
        entry = {
            "id": next(ids),
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "subject": str(parsed.get("Subject", "")),
            "date": str(parsed.get("Date", "")),
            "text": body.get_content() if body is not None else "",
            "raw": raw.decode("utf-8", "replace"),
        }
        with lock:
            messages.append(entry)
            del messages[:-LIMIT]
        print(f"mailcatcher: message {entry['id']} to {', '.join(entry['to'])}: {entry['subject']}", flush=True)
        return "250 Message accepted"


class Pages(BaseHTTPRequestHandler):
    def send(self, status, body, content_type):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with lock:
            current = list(reversed(messages))
        if self.path == "/healthz":
            self.send(200, "ok\n", "text/plain")
        elif self.path == "/api/messages":
            public = [{k: v for k, v in m.items() if k != "raw"} for m in current]
            self.send(200, json.dumps(public), "application/json")
        elif self.path.startswith("/messages/"):
            found = [m for m in current if str(m["id"]) == self.path.rsplit("/", 1)[1]]
            if found:
                self.send(200, found[0]["raw"], "text/plain; charset=utf-8")
            else:
                self.send(404, "no such message\n", "text/plain")
        elif self.path == "/":
            rows = "".join(
                f"<tr><td>{m['id']}</td><td>{html.escape(m['date'])}</td><td>{html.escape(', '.join(m['to']))}</td>"
                f"<td><a href=\"messages/{m['id']}\">{html.escape(m['subject']) or '(no subject)'}</a></td></tr>"
                for m in current
            )
            page = (
                "<!doctype html><meta charset=utf-8><title>Mail catcher</title>"
                f"<h1>Mail catcher: {len(current)} message(s)</h1>"
                "<table border=1 cellpadding=4><tr><th>#</th><th>Date</th><th>To</th><th>Subject</th></tr>"
                f"{rows}</table>"
            )
            self.send(200, page, "text/html; charset=utf-8")
        else:
            self.send(404, "not found\n", "text/plain")

    def do_DELETE(self):
        if self.path != "/api/messages":
            self.send(404, "not found\n", "text/plain")
            return
        with lock:
            messages.clear()
        self.send(200, "[]", "application/json")

    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    smtp = Controller(Catcher(), hostname="0.0.0.0", port=1025)
    smtp.start()
    print("mailcatcher: SMTP on :1025, web on :8025", flush=True)
    ThreadingHTTPServer(("0.0.0.0", 8025), Pages).serve_forever()
