"""A fake Docker Engine API behind the socket proxy's rules, for the real docker CLI to talk to.

`ProxiedDaemon(allow, containers)` listens on 127.0.0.1; each request is judged the way
wollomatic/socket-proxy 1.13.1 judges it (cmd/socket-proxy/handlehttprequest.go: a method
without an allow-list is 405, a path that no pattern of its method matches is 403; each
pattern is compiled as "^" + pattern + "$" in internal/config/config.go and matched against
the URL path, not the query), then answered just well enough for `docker container inspect`
and `docker start --attach` to finish. Every request is recorded with its verdict.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

API_VERSION = "1.47"


def admitted(allow: Mapping[str, Sequence[str]], method: str, path: str) -> int:
    """The proxy's answer before it forwards anything: 0 (forwarded), 405 or 403."""
    if method not in allow:
        return 405
    # Go's regexp `$` (no multiline flag) is the end of the text: Python's \Z.
    if not any(re.search("^" + pattern + r"\Z", path) for pattern in allow[method]):
        return 403
    return 0


@dataclass
class Request:
    method: str
    path: str
    body: str
    status: int


@dataclass
class ProxiedDaemon:
    allow: Mapping[str, Sequence[str]]
    containers: Mapping[str, dict]
    """Name: {"id": 64 hex, "running": bool, "exit": int, "output": str}."""
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        daemon = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _reply(self, code: int, body: bytes = b"", ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Api-Version", API_VERSION)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                path = urlsplit(self.path).path
                verdict = admitted(daemon.allow, self.command, path)
                daemon.requests.append(Request(self.command, self.path, body, verdict))
                if verdict:
                    self._reply(verdict, b"Forbidden\n" if verdict == 403 else b"Method Not Allowed\n", "text/plain")
                    return
                self._daemon(path)

            def _daemon(self, path: str) -> None:
                if path.endswith("/_ping"):
                    return self._reply(200, b"OK", "text/plain")
                ref = re.search(r"/containers/([^/]+)/(\w+)$", path)
                found = ref and daemon.find(ref[1])
                if not found:
                    return self._reply(404, json.dumps({"message": "No such container"}).encode())
                what = ref[2]
                if what == "json":
                    inspect = {
                        "Id": found["id"],
                        "Name": "/" + found["name"],
                        "State": {"Running": found["running"], "ExitCode": found["exit"]},
                        "Config": {"Tty": False, "OpenStdin": False, "Env": found.get("env", [])},
                        "HostConfig": {"AutoRemove": False},
                    }
                    return self._reply(200, json.dumps(inspect).encode())
                if what == "attach":
                    # A hijacked connection carrying one stdout frame, then closed.
                    self.send_response(101)
                    self.send_header("Content-Type", "application/vnd.docker.multiplexed-stream")
                    self.send_header("Connection", "Upgrade")
                    self.send_header("Upgrade", "tcp")
                    self.end_headers()
                    out = found["output"].encode()
                    self.wfile.write(b"\x01\x00\x00\x00" + len(out).to_bytes(4, "big") + out)
                    self.wfile.flush()
                    self.close_connection = True
                    return None
                if what == "wait":
                    return self._reply(200, json.dumps({"StatusCode": found["exit"]}).encode())
                if what == "start":
                    return self._reply(204)
                return self._reply(404, b'{"message": "not faked"}')

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815 (http.server's names)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def find(self, ref: str) -> dict | None:
        for name, spec in self.containers.items():
            if ref in (name, spec["id"]):
                return {"name": name, **spec}
        return None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"tcp://{host}:{port}"

    def __enter__(self) -> ProxiedDaemon:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def refused(self) -> list[Request]:
        return [r for r in self.requests if r.status]
