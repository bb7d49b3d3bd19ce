"""A loopback HTTP file server for download tests: Range support and scripted misbehaviour."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Behaviour:
    """Files served by URL path; ``drop`` = how many responses per path to cut off half-way;
    ``truncate`` = paths served short (with a Content-Length matching the short body)."""

    files: dict[str, bytes]
    drop: dict[str, int] = field(default_factory=dict)
    truncate: set[str] = field(default_factory=set)
    cut: dict[str, int] = field(default_factory=dict)  # responses per path ended early, no length
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(behaviour: Behaviour) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            b = behaviour
            with b.lock:
                b.requests.append((self.path, self.headers.get("Range")))
                dropping = b.drop.get(self.path, 0) > 0
                if dropping:
                    b.drop[self.path] -= 1
                cutting = b.cut.get(self.path, 0) > 0
                if cutting:
                    b.cut[self.path] -= 1
            body = b.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            if self.path in b.truncate:
                body = body[: len(body) // 2]
            start = 0
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes=") and rng.endswith("-"):
                start = int(rng[6:-1])
                if start >= len(body):
                    self.send_error(416)
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            part = body[start:]
            if cutting:  # no Content-Length: the body ends where the connection closes
                self.end_headers()
                self.wfile.write(part[: max(len(part) - 3000, 1)])  # inside the last HDU
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(part)))
            self.end_headers()
            if dropping:  # send half, then close the connection
                self.wfile.write(part[: len(part) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(part)

    return Handler


@contextmanager
def serve(behaviour: Behaviour) -> Iterator[str]:
    """Serve ``behaviour`` on 127.0.0.1 in a thread; yields the base URL (no trailing slash)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(behaviour))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
