"""A proxy on loopback in front of a real server that injects the failures a network and a server
can have, for the exactly-once tests (imported by name, like cli_support)."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

# What can happen to one request:
#   error    a gateway's 502/503/504, not forwarded
#   drop     the connection closes before anything is forwarded
#   lost     forwarded and applied, then the connection closes: the acknowledgement is lost
#   slow     forwarded and applied, answered only after the client's timeout
#   late     held past the client's timeout, then forwarded (the client has retried meanwhile)
#   crash    a server error (500) for this write and the next two: more than the SDK's own retries
#            of a 500, so the batch is refused as a whole, and then sent again in pieces
FAULTS = ("error", "drop", "lost", "slow", "late", "crash")
_CRASH = b'{"error": {"code": "INTERNAL", "message": "injected server error", "details": {}}}'
_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding", "host"}


class FaultProxy:
    """Forwards to `upstream`. Writes (POST, PUT) meet a fault with probability `rate`; during an
    outage (`outage(seconds)`) every request is dropped; `delay` is how long "slow" and "late"
    hold a request (longer than the client's timeout)."""

    def __init__(self, upstream: str, *, seed: int = 0, rate: float = 0.0, delay: float = 1.0) -> None:
        self.upstream = upstream
        self.rate = rate
        self.delay = delay
        self.random = random.Random(seed)
        self.injected: Counter[str] = Counter()
        self._outage_until = 0.0
        self._outage_on: tuple[str, float] | None = None
        self._crashing = 0
        self._lock = threading.Lock()
        self._http = httpx.Client(trust_env=False, timeout=60)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fault = proxy._choose(self.command)
                if fault == "drop":
                    self._close()
                    return
                if fault == "crash":
                    self.send_response(500)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(_CRASH)))
                    self.end_headers()
                    self.wfile.write(_CRASH)
                    return
                if fault == "error":
                    self.send_response(proxy.random.choice([502, 503, 504]))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fault == "late":
                    time.sleep(proxy.delay)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                answer = proxy._http.request(
                    self.command, proxy.upstream + self.path, content=body, headers=headers
                )
                if fault == "lost":
                    self._close()
                    return
                if fault == "slow":
                    time.sleep(proxy.delay)
                try:
                    self.send_response(answer.status_code)
                    for key, value in answer.headers.items():
                        if key.lower() not in _HOP_HEADERS:
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(answer.content)))
                    self.end_headers()
                    self.wfile.write(answer.content)
                except OSError:
                    pass  # the client gave up on this one

            def _close(self) -> None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def outage(self, seconds: float) -> None:
        with self._lock:
            self._outage_until = time.monotonic() + seconds

    def outage_on(self, method: str, seconds: float) -> None:
        """An outage that starts with the next `method` request (which it drops)."""
        with self._lock:
            self._outage_on = (method, seconds)

    def _choose(self, method: str) -> str:
        with self._lock:
            if self._outage_on is not None and self._outage_on[0] == method:
                self._outage_until = time.monotonic() + self._outage_on[1]
                self._outage_on = None
            if time.monotonic() < self._outage_until:
                fault = "drop"
            elif method in {"POST", "PUT"} and self._crashing:
                self._crashing -= 1
                return "crash"
            elif method in {"POST", "PUT"} and self.random.random() < self.rate:
                fault = self.random.choice(FAULTS)
                self._crashing = 2 if fault == "crash" else 0
            else:
                return "pass"
            self.injected[fault] += 1
            return fault

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._http.close()
