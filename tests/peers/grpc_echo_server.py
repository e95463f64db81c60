#!/usr/bin/python3
"""grpc_echo_server.py: a gRPC server (python3-grpcio) for testing the gRPC client peers.

Usage: grpc_echo_server.py --listen unix:///absolute/path.sock | 127.0.0.1:PORT

Serves peertest.v1.Echo from testdata/echo.proto: Say answers with the request's text
and payload; Repeat streams `count` replies; a non-zero fail_with_code fails the call
with that status. Prints "READY <target>" on stdout once listening, and runs until it
is killed (SIGTERM or SIGINT stop it cleanly). Exit code 2 when it cannot listen.
"""

import argparse
import os
import signal
import sys
import threading
from concurrent import futures

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402

from grpc_protos import Protos  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    args = parser.parse_args(argv)

    protos = Protos(os.path.join(HERE, "testdata"), ["echo.proto"])
    request_class = protos.message_class("peertest.v1.EchoRequest")
    reply_class = protos.message_class("peertest.v1.EchoReply")

    def fail_if_asked(request, context):
        if request.fail_with_code:
            code = next(c for c in grpc.StatusCode if c.value[0] == request.fail_with_code)
            context.abort(code, f"asked to fail with {code.name}")

    def peer_metadata(context):
        return dict(context.invocation_metadata()).get("x-peer-test", "")

    def say(request, context):
        fail_if_asked(request, context)
        return reply_class(text=request.text, payload=request.payload, big=request.big,
                           metadata_echo=peer_metadata(context))

    def repeat(request, context):
        for i in range(request.count):
            yield reply_class(text=request.text, payload=request.payload, index=i, big=request.big)
        fail_if_asked(request, context)

    handlers = {
        "Say": grpc.unary_unary_rpc_method_handler(
            say, request_deserializer=request_class.FromString, response_serializer=reply_class.SerializeToString),
        "Repeat": grpc.unary_stream_rpc_method_handler(
            repeat, request_deserializer=request_class.FromString, response_serializer=reply_class.SerializeToString),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("peertest.v1.Echo", handlers),))
    if server.add_insecure_port(args.listen) == 0 and not args.listen.startswith("unix:"):
        sys.stderr.write(f"cannot listen on {args.listen}\n")
        return 2
    server.start()
    print(f"READY {args.listen}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
