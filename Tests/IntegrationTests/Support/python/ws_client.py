"""A WebSocket client in plain Python, for the gateway's WebSocket tests. Prints one JSON line.

Usage: ws_client.py HOST:PORT PATH MODE [CA-FILE]   (with CA-FILE: wss, TLS verified against it)
- echo: handshake; read the backend's greeting; send "hello" and a 200 KB binary message (masked, as a
  client must); read their echoes; close. {"status", "accept_ok", "backend", "greeting", "echo", "big_ok", "closed"}
- idle: handshake, read the greeting, then wait (at most 10 s) for the connection to be closed:
  {"status", "closed_after"}.
- hold: handshake, read the greeting, wait 3 s (the test watches the gateway's gauge meanwhile), then close the
  socket without a close frame: {"status"}.
- refused: handshake on PATH, expected to be answered without 101; then a plain GET / on the same
  connection: {"status", "body", "next_status", "next_body"}.
"""
import base64
import hashlib
import json
import os
import socket
import ssl
import sys
import time

from ws_frames import GUID, encode_frame, read_frame, read_head


def read_response(sock, pending):
    """A response head and its Content-Length body (none for a 101), and the bytes after them."""
    status_line, fields, rest = read_head(sock, pending)
    status = int(status_line.split(" ")[1])
    body = b""
    if status != 101:
        length = int(fields.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        body, rest = rest[:length], rest[length:]
    return status, fields, body, rest


def send_frame(sock, opcode, payload):
    sock.sendall(encode_frame(opcode, payload, masked=True))


def main():
    target, path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    host, port = target.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    if len(sys.argv) > 4:
        sock = ssl.create_default_context(cafile=sys.argv[4]).wrap_socket(sock, server_hostname=host)
    key = base64.b64encode(os.urandom(16))
    sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + target.encode() + b"\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    status, fields, body, pending = read_response(sock, b"")
    result = {"status": status}
    if mode == "refused":
        result["body"] = body.decode()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: " + target.encode() + b"\r\n\r\n")
        status, _, body, pending = read_response(sock, pending)
        result["next_status"], result["next_body"] = status, body.decode()
    elif status == 101:
        expected = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        result["accept_ok"] = fields.get("sec-websocket-accept") == expected
        result["backend"] = fields.get("x-backend")
        _, greeting, pending = read_frame(sock, pending)
        result["greeting"] = greeting.decode()
        if mode == "echo":
            send_frame(sock, 1, b"hello")
            _, echo, pending = read_frame(sock, pending)
            result["echo"] = echo.decode()
            big = os.urandom(200 * 1024)
            send_frame(sock, 2, big)
            _, echo, pending = read_frame(sock, pending)
            result["big_ok"] = echo == b"echo:" + big
            send_frame(sock, 8, b"")
            opcode, _, pending = read_frame(sock, pending)
            result["closed"] = opcode == 8
        elif mode == "hold":
            time.sleep(3)
            sock.close()
        elif mode == "idle":
            started = time.monotonic()
            try:
                while sock.recv(65536):
                    pass
            except OSError:
                pass
            result["closed_after"] = round(time.monotonic() - started, 3)
    else:
        result["body"] = body.decode()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
