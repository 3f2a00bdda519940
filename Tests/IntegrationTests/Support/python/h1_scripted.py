"""A scripted HTTP/1.1 backend whose responses are exact bytes, framed and timed on purpose, for the tests
of how the gateway forwards response heads and bodies.

By request path:
- `/chunked-trailers`: a chunked body of one small chunk, then trailers (and a `Trailer` field).
- `/empty-chunked`: a chunked response with no data at all.
- `/split`: the head alone, then the Content-Length body in two parts 50 ms apart.
- `/big`: a 100000-byte Content-Length body, in one write.
- `/many-hop`: six hop-by-hop lines and a Content-Length.
Prints `PORT <n>` once listening; exits after `--lifetime` seconds at the latest.
"""
import argparse
import asyncio
import sys


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            if path == "/chunked-trailers":
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\nX-A: 1\r\n\r\n"
                             b"5\r\nhello\r\n0\r\nX-T: done\r\n\r\n")
            elif path == "/empty-chunked":
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            elif path == "/split":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: keep-alive\r\n\r\n")
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.write(b"abcde")
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.write(b"fghij")
            elif path == "/big":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000)
            elif path == "/many-hop":
                writer.write(b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-Before: b\r\n"
                             b"Upgrade: nothing\r\nTrailer: none\r\nProxy-Connection: x\r\nTE: y\r\nContent-Length: 2\r\n"
                             b"X-After: a\r\n\r\nok")
            else:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lifetime", type=float, default=60)
    args = parser.parse_args()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(args.lifetime)


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
