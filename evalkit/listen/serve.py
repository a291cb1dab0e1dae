"""``evalkit listen serve``: the test on localhost, each finished trial saved into the run folder.

Only the test's own files are served (the page and the stimuli test.json names), and the only
write is :func:`evalkit.listen.ratings.record_trial`, so a request can neither read nor write
anything else in or outside the run folder.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from evalkit.errors import EvalkitError, UsageError
from evalkit.listen.paths import Layout
from evalkit.listen.ratings import check_name, load_record, record_trial

MAX_BODY = 256 * 1024
TYPES = {".html": "text/html; charset=utf-8", ".flac": "audio/flac"}


def load_test(layout: Layout) -> dict:
    try:
        return json.loads((layout.test / "test.json").read_text())
    except FileNotFoundError:
        raise EvalkitError(
            f"{layout.test} holds no test; build one with `evalkit listen build {layout.run}`"
        ) from None


def make_server(run_dir: Path, port: int = 8765) -> ThreadingHTTPServer:
    """A server bound to 127.0.0.1 (``port`` 0: any free port); call serve_forever on it."""
    layout = Layout(Path(run_dir))
    test = load_test(layout)
    served = {"/": "index.html", "/index.html": "index.html"}
    for trial in test["trials"]:
        served |= {f"/{s['file']}": s["file"] for s in trial["stimuli"]}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
            pass

        def reply(self, status: int, body: bytes, kind: str = "text/plain; charset=utf-8"):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Evalkit", "1")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/api/ratings":
                try:
                    name = check_name(parse_qs(url.query).get("listener", [""])[0])
                except UsageError as exc:
                    return self.reply(HTTPStatus.BAD_REQUEST, str(exc).encode())
                record = load_record(layout.listener(name))  # None (JSON null): a new listener
                return self.reply(HTTPStatus.OK, json.dumps(record).encode(), "application/json")
            if url.path not in served:
                return self.reply(HTTPStatus.NOT_FOUND, b"not part of this test")
            path = layout.test / served[url.path]
            self.reply(HTTPStatus.OK, path.read_bytes(), TYPES[path.suffix])

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/api/ratings":
                return self.reply(HTTPStatus.NOT_FOUND, b"not part of this test")
            length = (
                int(self.headers.get("Content-Length") or 0)
                if self.headers.get("Content-Length", "0").isdigit()
                else 0
            )
            if not 0 < length <= MAX_BODY:
                return self.reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"body too large")
            try:
                record_trial(layout, test, json.loads(self.rfile.read(length)))
            except (UsageError, ValueError) as exc:
                return self.reply(HTTPStatus.BAD_REQUEST, str(exc).encode())
            self.reply(HTTPStatus.OK, b"saved")

    try:
        return ThreadingHTTPServer(("127.0.0.1", port), Handler)
    except OSError as exc:
        raise EvalkitError(
            f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); try --port"
        ) from None


def serve_in_thread(run_dir: Path) -> tuple[ThreadingHTTPServer, str]:
    """Start a server on a free port in a daemon thread; returns it and its base URL."""
    server = make_server(run_dir, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"
