"""Runs one gRPC call against `target` (h2c, no TLS) and prints the outcome as one JSON line:
{"code": "OK" | status name, "details": ..., "messages": [...]}.
Usage: grpc_client.py HOST:PORT unary|stream|bidi|fail|slow|remaining [timeout-seconds]
(timeout 0: the call has no deadline)
"""
import json
import sys

import grpc


def main():
    target, case = sys.argv[1], sys.argv[2]
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 10
    timeout = None if timeout == 0 else timeout
    result = {"code": "OK", "details": "", "messages": []}
    with grpc.insecure_channel(target) as channel:
        try:
            if case == "unary":
                result["messages"] = [channel.unary_unary("/test.Echo/Unary")(b"hello", timeout=timeout).decode()]
            elif case == "stream":
                result["messages"] = [m.decode() for m in channel.unary_stream("/test.Echo/Stream")(b"5", timeout=timeout)]
            elif case == "bidi":
                call = channel.stream_stream("/test.Echo/Bidi")(iter([b"a", b"b", b"c"]), timeout=timeout)
                result["messages"] = [m.decode() for m in call]
            elif case == "fail":
                channel.unary_unary("/test.Echo/Fail")(b"x", timeout=timeout)
            elif case == "remaining":
                result["messages"] = [channel.unary_unary("/test.Echo/Remaining")(b"x", timeout=timeout).decode()]
            elif case == "slow":
                result["messages"] = [channel.unary_unary("/test.Echo/Slow")(b"x", timeout=timeout).decode()]
        except grpc.RpcError as error:
            result["code"] = error.code().name
            result["details"] = error.details() or ""
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
