"""The API and portal on Chalice's local server, answering as API Gateway does.

``python -m infra.local.api_server --host 127.0.0.1 --port 8000 --stage local`` does what
``chalice local --no-autoreload`` does (the stage's configuration and environment variables, the
routes validated as ``chalice deploy`` would, ``chalice.local``'s gateway and threaded server) with
one difference in the request handler: Chalice's handler only has ``do_GET`` ... ``do_OPTIONS``,
so for any other method (TRACE, CONNECT, PROPFIND, ...) ``BaseHTTPRequestHandler`` answers a
``501`` HTML page. Here every such method is a ``405`` in the API's error shape,
``{"error": {"code": "method_not_allowed", "message": ...}}`` with ``Content-Type:
application/json``, as API Gateway gives a method the API does not declare. There is no reloader:
restart the stack after changing code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from http.server import HTTPServer
from pathlib import Path
from typing import Any

from chalice.app import Chalice
from chalice.cli.factory import CLIFactory
from chalice.config import Config
from chalice.deploy.validate import validate_routes
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LocalChalice,
    LocalDevServer,
    RouteMatcher,
)

PROJECT_DIR = Path(__file__).resolve().parents[2]
# A body sent with a method we refuse is read and dropped, so the connection stays usable;
# anything larger (or of unknown length) closes the connection instead.
MAX_DISCARDED_BODY = 1024 * 1024


class GatewayRequestHandler(ChaliceRequestHandler):
    """Chalice's request handler, plus a 405 in the API's error shape for every other method."""

    def __init__(
        self,
        request: Any,
        client_address: tuple[str, int],
        server: HTTPServer,
        app_object: Chalice,
        config: Config,
    ) -> None:
        self._routes = RouteMatcher(list(app_object.routes))
        self._app_routes = app_object.routes
        super().__init__(request, client_address, server, app_object=app_object, config=config)

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler looks up ``do_<METHOD>`` and answers 501 when it is missing;
        # only the methods Chalice's handler defines are found before this.
        if name.startswith("do_"):
            return self._method_not_allowed
        raise AttributeError(name)

    def _allowed_methods(self) -> list[str]:
        """The route's methods, as Chalice's own 405 lists them (none for an unknown path)."""
        try:
            route = self._routes.match_route(self.path).route
        except (ValueError, KeyError):
            return []
        return list(self._app_routes[route])

    def _discard_body(self) -> None:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if 0 <= length <= MAX_DISCARDED_BODY:
            if length:
                self.rfile.read(length)
        else:
            self.close_connection = True

    def _method_not_allowed(self) -> None:
        self._discard_body()
        body = json.dumps(
            {
                "error": {
                    "code": "method_not_allowed",
                    "message": f"Unsupported method: {self.command}",
                }
            },
            separators=(",", ":"),
        ).encode()
        self.send_response(405)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        allowed = self._allowed_methods()
        if allowed:
            self.send_header("Allow", ", ".join(allowed))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _send_http_response_with_body(
        self, code: int, headers: dict[str, Any], body: str | bytes
    ) -> None:
        # A response to HEAD carries the headers of the answer but never its body: written
        # anyway, a client keeping the connection alive would read it as the next response.
        if self.command == "HEAD":
            encoded = body if isinstance(body, bytes) else body.encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Length", str(len(encoded)))
            self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
            self._send_headers(headers)
            return
        super()._send_http_response_with_body(code, headers, body)


def create_server(stage: str, host: str, port: int, project_dir: Path = PROJECT_DIR) -> Any:
    """What ``chalice local`` builds (``chalice.cli.create_local_server``), with our handler."""
    os.environ["AWS_CHALICE_CLI_MODE"] = "true"  # as the chalice CLI sets it
    os.chdir(project_dir)
    factory = CLIFactory(str(project_dir), environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=stage)
    app_obj = config.chalice_app
    validate_routes(app_obj.routes)
    # chalice.local.create_local_server: per-thread current_request on the app object.
    CustomLocalChalice.__bases__ = (LocalChalice, app_obj.__class__)
    app_obj.__class__ = CustomLocalChalice
    return LocalDevServer(app_obj, config, host, port, handler_cls=GatewayRequestHandler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.api_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--stage", default="local")
    args = parser.parse_args(argv)
    # As `chalice local`: the app's log lines on stdout, as they would be in Lambda.
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    server = create_server(args.stage, args.host, args.port)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
