"""A real Plimsoll server on 127.0.0.1 for tests (ours, and yours: `LiveServer(Platform(...))`)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from plimsoll.platform import Platform
from plimsoll.server.app import create_app


class LiveServer:
    """A real uvicorn server on 127.0.0.1 in a background thread, stopped at teardown."""

    def __init__(self, platform: Platform, *, port: int = 0) -> None:
        """On `port`, or a free one (a server that comes back where clients left it: give its port)."""
        self.platform = platform
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn's own socket
            probe.bind(("127.0.0.1", port))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(
            create_app(platform),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
