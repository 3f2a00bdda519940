"""WebSocket (RFC 6455) framing and HTTP/1.1 head reading shared by ws_server.py and ws_client.py.

Plain Python, no third-party package. Every reader takes the bytes already received (`pending`) and
returns what it read together with the bytes left over, so a caller never loses data that arrived in the
same segment as a head or a frame.
"""
import os
import struct

# RFC 6455 §1.3: appended to Sec-WebSocket-Key before hashing for Sec-WebSocket-Accept.
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def read_exactly(sock, count, pending):
    """Exactly `count` bytes (from `pending` first), and the rest."""
    while len(pending) < count:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed before %d bytes arrived" % count)
        pending += chunk
    return pending[:count], pending[count:]


def read_head(sock, pending):
    """An HTTP/1.1 head: its first line, its fields (lower-case names, last value wins), and the rest."""
    while b"\r\n\r\n" not in pending:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed in a head")
        pending += chunk
    head, rest = pending.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return lines[0], fields, rest


def encode_frame(opcode, payload, masked=False):
    """One final frame. Clients must mask what they send (§5.3); servers must not."""
    length = len(payload)
    mask_bit = 0x80 if masked else 0
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, mask_bit | length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, mask_bit | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, mask_bit | 127, length)
    if not masked:
        return header + payload
    mask = os.urandom(4)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def read_frame(sock, pending):
    """One frame: its opcode, its payload (unmasked), and the rest."""
    (first, second), pending = read_exactly(sock, 2, pending)
    length = second & 0x7F
    if length == 126:
        raw, pending = read_exactly(sock, 2, pending)
        length = struct.unpack("!H", raw)[0]
    elif length == 127:
        raw, pending = read_exactly(sock, 8, pending)
        length = struct.unpack("!Q", raw)[0]
    mask = b""
    if second & 0x80:
        mask, pending = read_exactly(sock, 4, pending)
    payload, pending = read_exactly(sock, length, pending)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return first & 0x0F, payload, pending
