"""A small HTTP/2 (h2c, prior knowledge) backend that misbehaves on request, for the upstream HTTP/2 tests.

Every response says which connection served it (`x-conn: N`, N counting accepted connections from 1).
- `/rst...`: the stream is reset (RST_STREAM INTERNAL_ERROR) instead of answered.
- `--goaway-after N`: after answering N streams on a connection, send GOAWAY naming the highest stream
  received so far (those are still answered; later ones are refused by it), then close.
Prints `PORT <n>` once listening; exits after `--lifetime` seconds at the latest.
"""
import argparse
import asyncio
import struct
import sys

import h2.config
import h2.connection
import h2.events


class Backend(asyncio.Protocol):
    accepted = 0
    goaway_after = 0

    def connection_made(self, transport):
        Backend.accepted += 1
        self.number = Backend.accepted
        self.transport = transport
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.pending = {}
        self.served = 0
        self.gone = False
        self.highest = 0
        self.closing = False
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.transport.write(data)

    def data_received(self, data):
        if self.gone:
            return
        try:
            events = self.conn.receive_data(data)
        except Exception:
            self.transport.close()
            return
        if not self.gone:
            # Every stream of this read counts as received, as for a real server whose GOAWAY names the
            # last stream it has read: only streams that arrive later are refused.
            for event in events:
                if isinstance(event, h2.events.RequestReceived):
                    self.highest = max(self.highest, event.stream_id)
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                if self.gone and event.stream_id > self.highest:
                    continue  # refused by our GOAWAY
                headers = dict(event.headers)
                if event.stream_ended:
                    self.respond(event.stream_id, headers)
                else:
                    self.pending[event.stream_id] = headers
            elif isinstance(event, h2.events.DataReceived):
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                headers = self.pending.pop(event.stream_id, None)
                if headers is not None:
                    self.respond(event.stream_id, headers)
            elif isinstance(event, h2.events.ConnectionTerminated):
                self.transport.close()
                return
        self.flush()

    def respond(self, stream_id, headers):
        if self.gone and stream_id > self.highest:
            return
        path = headers.get(":path", "/")
        if path.startswith("/rst"):
            self.conn.reset_stream(stream_id, error_code=2)
            return
        body = f"conn={self.number} path={path}".encode()
        self.conn.send_headers(stream_id, [(":status", "200"), ("content-type", "text/plain"),
                                           ("content-length", str(len(body))), ("x-conn", str(self.number))])
        self.conn.send_data(stream_id, body, end_stream=True)
        self.served += 1
        if Backend.goaway_after and self.served == Backend.goaway_after:
            # A graceful GOAWAY (NO_ERROR) written by hand: the h2 library would refuse to answer the
            # streams it still owes after its own close_connection().
            self.flush()
            self.transport.write(struct.pack(">I", 8)[1:] + bytes([7, 0]) + struct.pack(">I", 0) + struct.pack(">II", self.highest, 0))
            self.gone = True
        if self.gone and not self.pending and not self.closing:
            # Closing at once could reset the socket with the client's late streams unread, and the reset
            # may destroy the GOAWAY before the client reads it; real servers linger too.
            self.flush()
            self.closing = True
            asyncio.get_running_loop().call_later(1.0, self.transport.close)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--goaway-after", type=int, default=0)
    parser.add_argument("--lifetime", type=float, default=60)
    args = parser.parse_args()
    Backend.goaway_after = args.goaway_after
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Backend, "127.0.0.1", 0)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.sleep(args.lifetime)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
