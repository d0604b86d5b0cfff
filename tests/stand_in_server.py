"""A stand-in HTTP receiver on 127.0.0.1 that the tests and soaks point the app at (the
provincial platform, a city's SMS gateway): it runs in a thread, can go down (connection
refused) for a while and come back on the same port, and answers JSON. Subclasses decide what
each POST means (`_handle`)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StandInServer:
    PATH = "/"
    KEEP_ALIVE = False  # HTTP/1.1 keep-alive, as a real platform's server

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connections = 0  # TCP connections accepted
        self.port = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.PATH}"

    def start(self) -> Any:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if stand_in.KEEP_ALIVE else "HTTP/1.0"

            def setup(self) -> None:
                super().setup()
                with stand_in.lock:
                    stand_in.connections += 1

            def do_POST(self) -> None:
                stand_in._handle(self)

            def log_message(self, *_args: Any) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Go down: the port refuses connections until start() again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def down_for(self, seconds: float, *, at_once: bool = False) -> threading.Thread:
        """Go down for `seconds`, then come back on the same port. With `at_once` the port refuses
        connections before this returns (not from one of the server's own handlers: stopping
        waits for its loop); otherwise the outage begins on its thread, a moment later."""
        if at_once:
            self.stop()

        def outage() -> None:
            if not at_once:
                self.stop()
            time.sleep(seconds)
            self.start()

        thread = threading.Thread(target=outage, daemon=True)
        thread.start()
        return thread

    def _answer(self, handler: BaseHTTPRequestHandler, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        try:
            handler.send_response(code)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender is gone (killed mid-request): it never hears the answer

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError
