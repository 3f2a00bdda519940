"""A gRPC server without generated code (raw-bytes messages), for the gateway's end-to-end gRPC tests.

Methods of service `test.Echo`:
- Unary: answers b"echo:" + the request.
- Stream (server streaming): the request is a count N; answers N messages b"item-<i>".
- Bidi: answers every message with b"re:" + it, as they come.
- Fail: aborts with NOT_FOUND "no such thing" before any message (a trailers-only response).
- Slow: sleeps 3 s, then answers (for deadlines).
- Remaining: answers the seconds left of the call's deadline as its server saw it (`grpc-timeout`); grpcio
  gives a call without one a deadline about 2^63 ns away.
And `grpc.health.v1.Health/Check` (hand-encoded protobuf): the whole server ("") and "api" are SERVING,
"down" is NOT_SERVING, any other service is NOT_FOUND.
Prints `PORT <n>` once listening; exits after `--lifetime` seconds at the latest.
"""
import argparse
import sys
import time
from concurrent import futures

import grpc


def unary(request, context):
    return b"echo:" + request


def stream(request, context):
    for index in range(int(request.decode() or "0")):
        yield f"item-{index}".encode()


def bidi(requests, context):
    for message in requests:
        yield b"re:" + message


def fail(request, context):
    context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")


def slow(request, context):
    time.sleep(3)
    return b"late"


def remaining(request, context):
    left = context.time_remaining()
    return b"none" if left is None else f"{left:.3f}".encode()  # None in older grpcio releases


def health_check(request, context):
    """HealthCheckRequest { string service = 1; } -> HealthCheckResponse { ServingStatus status = 1; }."""
    service = b""
    if len(request) >= 2 and request[0] == 0x0A:
        service = request[2:2 + request[1]]
    if service in (b"", b"api"):
        return b"\x08\x01"
    if service == b"down":
        return b"\x08\x02"
    context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lifetime", type=float, default=60)
    args = parser.parse_args()
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "Stream": grpc.unary_stream_rpc_method_handler(stream),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Slow": grpc.unary_unary_rpc_method_handler(slow),
        "Remaining": grpc.unary_unary_rpc_method_handler(remaining),
    }
    health = {"Check": grpc.unary_unary_rpc_method_handler(health_check)}
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", handlers),
                                     grpc.method_handlers_generic_handler("grpc.health.v1.Health", health)))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"PORT {port}", flush=True)
    server.wait_for_termination(timeout=args.lifetime)
    server.stop(0)


if __name__ == "__main__":
    main()
    sys.exit(0)
