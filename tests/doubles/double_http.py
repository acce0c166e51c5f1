"""Shared HTTP plumbing for the ChittyCharge test doubles (Stripe, ChittyID).

Contract:
- An *app* is a callable ``app(Request) -> Response``. It runs on the handler
  thread of one connection; apps keep their own state behind their own lock.
- Every answer is written with ONE ``sendall`` (status line + headers + body built
  here), always with Content-Length, on a kept-alive HTTP/1.1 connection with
  TCP_NODELAY. Splitting headers and body into two writes makes a kept-alive
  client wait ~40 ms for a delayed ACK (see FASTCGI-NOTES.md).
- An exception escaping the app becomes a 500 JSON answer; the server never dies
  on bad input.
- ``Response(drop=True)`` closes the TCP connection without answering (fault
  injection).
- ``run()`` prints ``LISTENING <port>`` once the socket is bound and exits 0 on
  SIGTERM/SIGINT.

Python 3 standard library only.
"""

import argparse
import json
import re
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

MAX_BODY_BYTES = 16 * 1024 * 1024


class Request:
    """One parsed HTTP request as the apps see it."""

    def __init__(self, method, target, headers, body, client):
        parts = urlsplit(target)
        self.method = method
        self.path = parts.path
        self.query_string = parts.query
        self.headers = headers  # http.client.HTTPMessage (case-insensitive get)
        self.body = body
        self.client = client

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def json(self):
        """Body parsed as JSON; an empty body is ``{}``. Raises ValueError."""
        if not self.body.strip():
            return {}
        return json.loads(self.body.decode("utf-8"))


class Response:
    """What an app answers. ``headers`` is a list of (name, value) pairs."""

    def __init__(self, status, body=b"", headers=None, drop=False):
        self.status = int(status)
        self.body = body
        self.headers = list(headers or [])
        self.drop = drop

    @classmethod
    def json(cls, status, obj, headers=None):
        hdrs = [("Content-Type", "application/json")] + list(headers or [])
        return cls(status, json_bytes(obj), hdrs)

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class Router:
    """(method, path regex) → handler; ``find`` gives (handler, groups) or (None, path_known)."""

    def __init__(self):
        self._routes = []

    def add(self, method, pattern, handler):
        self._routes.append((method, re.compile(f"^{pattern}$"), handler))

    def find(self, method, path):
        path_known = False
        for route_method, regex, handler in self._routes:
            match = regex.match(path)
            if match and route_method == method:
                return handler, match.groupdict()
            path_known = path_known or bool(match)
        return None, path_known


def json_bytes(obj):
    """Pretty JSON as Stripe sends it: 2-space indent, raw UTF-8, trailing newline."""
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def internal_error_response():
    message = "An unknown error occurred in the test double."
    return Response.json(500, {"error": {"type": "api_error", "message": message}})


class DoubleServer(ThreadingHTTPServer):
    """Threaded server: one daemon thread per connection, big accept backlog, optional TLS."""

    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address, app, ssl_context=None, verbose=False):
        self.app = app
        self.ssl_context = ssl_context
        self.verbose = verbose
        super().__init__(address, DoubleHandler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, on the connection's own thread, so a slow
        # or broken client never blocks the accept loop.
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        tls = self.ssl_context.wrap_socket(request, server_side=True)
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


class DoubleHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "chittycharge-test-double"
    sys_version = ""

    def do_GET(self):
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _dispatch(self):
        try:
            body = self._read_body()
        except ValueError as exc:
            self._write(Response.json(400, {"error": {"type": "invalid_request_error",
                                                      "message": str(exc)}}))
            self.close_connection = True
            return
        request = Request(self.command, self.path, self.headers, body, self.client_address)
        try:
            response = self.server.app(request)
        except Exception:  # the double must never die on bad input
            if self.server.verbose:
                traceback.print_exc()
            response = internal_error_response()
        self._write(response)
        self.log_request(response.status if not response.drop else "-", len(response.body))

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        if not length.strip().isdigit():
            raise ValueError("Invalid Content-Length")
        size = int(length)
        if size > MAX_BODY_BYTES:
            raise ValueError("Request body too large")
        return self.rfile.read(size)

    def _read_chunked(self):
        chunks, total = [], 0
        while True:
            size_line = self.rfile.readline(1024).split(b";")[0].strip()
            size = int(size_line, 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise ValueError("Request body too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _write(self, response):
        if response.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if any(k.lower() == "connection" and v.lower() == "close" for k, v in response.headers):
            self.close_connection = True
        self.wfile.write(self._serialize(response))

    def _serialize(self, response):
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Status"
        lines = [f"HTTP/1.1 {response.status} {reason}",
                 f"Server: {self.server_version}",
                 f"Date: {self.date_time_string()}"]
        lines += [f"{k}: {v}" for k, v in response.headers if k.lower() != "content-length"]
        lines.append(f"Content-Length: {len(response.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if self.command == "HEAD" else head + response.body

    def log_message(self, format, *args):  # noqa: A002 (BaseHTTPRequestHandler's name)
        if self.server.verbose:
            super().log_message(format, *args)


def add_common_args(parser):
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--tls-cert", help="PEM certificate; with --tls-key serves HTTPS")
    parser.add_argument("--tls-key", help="PEM private key")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def make_ssl_context(cert, key):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def run(app, args, on_shutdown=None):
    """Serve ``app`` until SIGTERM/SIGINT, then shut down cleanly and return 0."""
    if bool(args.tls_cert) != bool(args.tls_key):
        raise SystemExit("--tls-cert and --tls-key go together")
    context = make_ssl_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    server = DoubleServer((args.host, args.port), app, context, args.verbose)
    # The handler only appends to a list: an Event's set() there could deadlock on the
    # Event's own lock, held by this thread when the signal arrives inside its wait().
    signals = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, _frame: signals.append(signum))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="http-accept", daemon=True)
    thread.start()
    print(f"LISTENING {server.server_address[1]}", flush=True)
    while not signals:
        time.sleep(0.1)
    server.shutdown()
    server.server_close()
    if on_shutdown:
        on_shutdown()
    return 0


def new_parser(description):
    return add_common_args(argparse.ArgumentParser(description=description))


def main_guard(main):
    """Exit with main()'s status; a failure to start is one line on stderr, status 2."""
    try:
        sys.exit(main())
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
