"""The stack's API server answers as API Gateway does, on the wire.

Methods the API has no handler for are a 405 in the error shape (not the HTML 501 of Python's
``BaseHTTPRequestHandler``), and responses without a body (204, HEAD) carry nothing after their
headers, so a client keeping the connection alive reads the next response correctly.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.harness import StackProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def connection(stack: StackProcess) -> Iterator[http.client.HTTPConnection]:
    conn = http.client.HTTPConnection("127.0.0.1", int(stack.env["PORT"]), timeout=10)
    try:
        yield conn
    finally:
        conn.close()


def exchange(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: Any = None,
    key: str | None = None,
) -> tuple[http.client.HTTPResponse, bytes]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    return response, response.read()


def assert_method_not_allowed(response: http.client.HTTPResponse, body: bytes, method: str) -> None:
    assert response.status == 405, body
    assert response.getheader("Content-Type") == "application/json"
    assert int(response.getheader("Content-Length") or -1) == len(body)
    assert json.loads(body) == {
        "error": {"code": "method_not_allowed", "message": f"Unsupported method: {method}"}
    }


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "BREW"])
def test_an_unsupported_method_is_a_405_in_the_error_shape(
    connection: http.client.HTTPConnection, method: str
) -> None:
    response, body = exchange(connection, method, "/health")
    assert_method_not_allowed(response, body, method)
    assert response.getheader("Allow") == "GET"  # the route's methods, as Chalice lists them
    # The connection is still good for the next request.
    again, body = exchange(connection, "GET", "/health")
    assert again.status == 200
    assert json.loads(body) == {"status": "ok"}


def test_an_unsupported_method_on_an_unknown_path_is_a_405_too(
    connection: http.client.HTTPConnection,
) -> None:
    response, body = exchange(connection, "TRACE", "/no/such/route")
    assert_method_not_allowed(response, body, "TRACE")
    assert response.getheader("Allow") is None


def test_the_body_of_a_refused_request_does_not_leak_into_the_next(
    connection: http.client.HTTPConnection,
) -> None:
    connection.request("TRACE", "/health", body=b"GET /health HTTP/1.1\r\n\r\n")
    response = connection.getresponse()
    assert_method_not_allowed(response, response.read(), "TRACE")
    again, body = exchange(connection, "GET", "/v1/openapi.json")
    assert again.status == 200
    assert "paths" in json.loads(body)


def test_a_method_a_route_lacks_is_the_apps_own_405(
    connection: http.client.HTTPConnection,
) -> None:
    response, body = exchange(connection, "PUT", "/health", {"status": "down"})
    assert_method_not_allowed(response, body, "PUT")


def test_two_requests_on_one_connection_after_a_204_both_parse(
    stack: StackProcess, tenant: tuple[str, str], connection: http.client.HTTPConnection
) -> None:
    _, key = tenant
    created, body = exchange(
        connection, "POST", "/v1/api-keys", {"name": "kept-alive", "permission": "none"}, key
    )
    assert created.status == 201, body
    key_id = json.loads(body)["id"]

    revoked, body = exchange(connection, "DELETE", f"/v1/api-keys/{key_id}", key=key)
    assert revoked.status == 204
    assert body == b""
    assert revoked.getheader("Content-Length") in {None, "0"}
    listed, body = exchange(connection, "GET", "/v1/api-keys", key=key)
    assert listed.status == 200, body
    keys = {k["id"]: k for k in json.loads(body)["items"]}
    assert keys[key_id]["active"] is False


def test_nothing_follows_the_headers_of_a_204(stack: StackProcess, tenant: tuple[str, str]) -> None:
    """On the raw socket: the bytes after a 204's headers are the next response's status line."""
    _, key = tenant
    created = stack.call("POST", "/v1/api-keys", key, {"name": "raw", "permission": "none"})
    assert created.status_code == 201, created.text
    key_id = created.json()["id"]
    pipelined = (
        f"DELETE /v1/api-keys/{key_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {key}\r\n\r\n"
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", int(stack.env["PORT"])), timeout=10) as sock:
        sock.sendall(pipelined.encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    first, _, rest = received.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 204 "), received
    assert rest.startswith(b"HTTP/1.1 200 "), received
    assert rest.endswith(b'{"status":"ok"}'), received


def test_a_head_response_has_no_body_on_a_kept_alive_connection(
    connection: http.client.HTTPConnection,
) -> None:
    head, body = exchange(connection, "HEAD", "/health")
    assert head.status == 405  # the API declares GET only, as on API Gateway
    assert body == b""
    after, body = exchange(connection, "GET", "/health")
    assert after.status == 200
    assert json.loads(body) == {"status": "ok"}
