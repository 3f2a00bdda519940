"""A WebSocket backend in plain Python (no third-party package), for the gateway's WebSocket tests.

Per connection, HTTP/1.1 requests until a handshake succeeds:
- `/deny`: 403 "denied" (the handshake is refused; the connection stays open for the next request).
- a request without `Upgrade: websocket`: 426 with body "no upgrade: <Upgrade value or none>".
- `/stats`: 200 with the number of WebSocket connections open right now, as text.
- a WebSocket handshake: 101 with Sec-WebSocket-Accept (RFC 6455 §4.2.2) and `X-Backend: ws`, followed at
  once, in the same send, by a text frame "hello from backend". Then every data frame is answered with a
  frame carrying b"echo:" + its payload, and a close frame with a close frame.
Prints `PORT <n>` once listening; exits after `--lifetime` seconds at the latest.
"""
import argparse
import base64
import hashlib
import socket
import sys
import threading
import time

from ws_frames import GUID, encode_frame, read_frame, read_head


open_tunnels = 0
lock = threading.Lock()


def serve(conn):
    global open_tunnels
    pending = b""
    counted = False
    try:
        while True:
            request_line, fields, pending = read_head(conn, pending)
            path = request_line.split(" ")[1]
            if path == "/stats":
                with lock:
                    body = str(open_tunnels).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                continue
            if path == "/deny":
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\ndenied")
                continue
            if fields.get("upgrade", "").lower() != "websocket" or "upgrade" not in fields.get("connection", "").lower():
                body = ("no upgrade: " + fields.get("upgrade", "none")).encode()
                conn.sendall(b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                continue
            with lock:
                open_tunnels += 1
            counted = True
            accept = base64.b64encode(hashlib.sha1(fields["sec-websocket-key"].encode() + GUID).digest())
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + accept + b"\r\nX-Backend: ws\r\n\r\n" + encode_frame(1, b"hello from backend"))
            while True:
                opcode, payload, pending = read_frame(conn, pending)
                if opcode == 8:
                    conn.sendall(encode_frame(8, payload))
                    return
                conn.sendall(encode_frame(opcode, b"echo:" + payload))
    except (EOFError, OSError):
        pass
    finally:
        if counted:
            with lock:
                open_tunnels -= 1
        conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lifetime", type=float, default=60)
    args = parser.parse_args()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.5)
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    end = time.monotonic() + args.lifetime
    while time.monotonic() < end:
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        conn.settimeout(args.lifetime)
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
    sys.exit(0)
