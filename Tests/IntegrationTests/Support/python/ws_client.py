"""A WebSocket client in plain Python, for the gateway's WebSocket tests. Prints one JSON line.

Usage: ws_client.py HOST:PORT PATH MODE [CA-FILE]   (with CA-FILE: wss, TLS verified against it)
- echo: handshake; read the backend's greeting; send "hello" and a 200 KB binary message (masked, as a
  client must); read their echoes; close. {"status", "accept_ok", "backend", "greeting", "echo", "big_ok", "closed"}
- idle: handshake, read the greeting, then wait (at most 10 s) for the connection to be closed:
  {"status", "closed_after"}.
- hold: handshake, read the greeting, wait a second, then close the socket without a close frame: {"status"}.
- refused: handshake on PATH, expected to be answered without 101; then a plain GET / on the same
  connection: {"status", "body", "next_status", "next_body"}.
"""
import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def recv_until(sock, pending, marker):
    while marker not in pending:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("closed while waiting for a head")
        pending += chunk
    return pending


def read_response(sock, pending):
    pending = recv_until(sock, pending, b"\r\n\r\n")
    head, rest = pending.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    status = int(lines[0].split(" ")[1])
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


def read_exactly(sock, count, pending):
    while len(pending) < count:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("closed in a frame")
        pending += chunk
    return pending[:count], pending[count:]


def read_frame(sock, pending):
    (first, second), pending = read_exactly(sock, 2, pending)
    length = second & 0x7F
    if length == 126:
        raw, pending = read_exactly(sock, 2, pending)
        length = struct.unpack("!H", raw)[0]
    elif length == 127:
        raw, pending = read_exactly(sock, 8, pending)
        length = struct.unpack("!Q", raw)[0]
    payload, pending = read_exactly(sock, length, pending)
    return first & 0x0F, payload, pending


def send_frame(sock, opcode, payload):
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


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
            time.sleep(1)
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
