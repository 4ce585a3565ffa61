"""What the loopback stand-ins share: an HTTP/1.1 JSON handler (bodies
with or without chunked transfer encoding; a bug in a stand-in answers
500 instead of hanging the client) and a threaded server on 127.0.0.1.

A stand-in subclasses `JsonHandler`, implements `handle_any(method)` and
`internal_error(exception)` (its API's error shape), and calls `serve`.
"""

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body, headers=None, raw=None):
        """JSON `body`, or `raw` bytes, with extra `headers`."""
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream" if raw is not None else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        """The request body, with or without chunked transfer encoding."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def guarded(self, method):
        try:
            self.handle_any(method)
        except Exception as e:  # a bug here must fail the test loudly, not hang it
            self.reply(*self.internal_error(e))

    def do_GET(self):
        self.guarded("GET")

    def do_POST(self):
        self.guarded("POST")

    def do_PATCH(self):
        self.guarded("PATCH")

    def do_DELETE(self):
        self.guarded("DELETE")


def serve(handler, extra_arguments=()):
    """Parses `--port PORT` (and `extra_arguments`: (flag, default)
    pairs), serves `handler` on 127.0.0.1 until killed; the parsed
    arguments are passed to `handler.configure` first, if it has one."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    for flag, default in extra_arguments:
        parser.add_argument(flag, default=default)
    args = parser.parse_args()
    if hasattr(handler, "configure"):
        handler.configure(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True
    server.serve_forever()
