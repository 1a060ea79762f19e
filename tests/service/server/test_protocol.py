"""What the HTTP protocol answers itself, before the app sees a request: OpenAI's shape, with a request id."""

from __future__ import annotations

import json
import socket

from service.stub.testing import HOST
from tests.support.service import ServiceProcess


def test_bytes_that_are_not_http_get_an_openai_shaped_400_with_a_request_id(service: ServiceProcess) -> None:
    with socket.create_connection((HOST, service.port), timeout=10) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    request_id = next(line.split(b": ")[1] for line in head.split(b"\r\n") if line.startswith(b"x-request-id"))
    assert json.loads(body)["error"]["code"] == "invalid_http"
    assert service.log_line(f'"request_id":"{request_id.decode()}"')["event"] == "invalid_http_request"
