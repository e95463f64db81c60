#!/usr/bin/python3
"""grpc_call.py: call one gRPC method with Debian's python3-grpcio, messages built at run time from .proto files.

Run with Debian's /usr/bin/python3 (python3-grpcio, python3-protobuf, protobuf-compiler).

Usage:
  grpc_call.py --target TARGET --proto-root DIR --proto FILE [--proto FILE ...]
               --method package.Service/Method [--request JSON | --request-file FILE]
               [--deadline SECONDS] [--metadata KEY=VALUE ...]
  grpc_call.py --proto-root DIR --proto FILE [...] --list

  TARGET   unix:///absolute/path.sock (a Unix domain socket) or 127.0.0.1:PORT
  JSON     the request in protobuf's JSON mapping (bytes as base64); default {}.

Output (stdout, one JSON document):
  {"ok": true, "code": 0, "code_name": "OK", "details": "", "responses": [...]}
  {"ok": false, "code": N, "code_name": "UNAVAILABLE", "details": "...", "responses": [...]}
  responses use protobuf's JSON mapping with the .proto field names; a server-streaming
  method gives every message received (also those before an error).
  --list: {"ok": true, "methods": [{"method", "request", "response", "server_streaming", ...}]}
Exit codes: 0 status OK; 1 a non-OK status; 2 usage error or unreadable .proto files.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402

from grpc_protos import Protos  # noqa: E402


def _to_dict(message):
    # Fields at their default value are written too, so a test sees index 0 and empty strings.
    try:
        return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                         including_default_value_fields=True)
    except TypeError:  # protobuf 5 renamed the option
        return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                         always_print_fields_with_no_presence=True)


def main(argv):
    parser = argparse.ArgumentParser(description="call one gRPC method")
    parser.add_argument("--target")
    parser.add_argument("--proto-root", required=True)
    parser.add_argument("--proto", action="append", required=True)
    parser.add_argument("--method")
    parser.add_argument("--request")
    parser.add_argument("--request-file")
    parser.add_argument("--deadline", type=float, default=30.0)
    parser.add_argument("--metadata", action="append", default=[])
    parser.add_argument("--list", action="store_true")
    try:
        args = parser.parse_args(argv)
    except SystemExit:
        return 2

    try:
        protos = Protos(args.proto_root, args.proto)
    except Exception as error:  # pylint: disable=broad-except
        detail = getattr(error, "stderr", b"") or b""
        sys.stderr.write(f"cannot load protos: {error} {detail.decode(errors='replace')}\n")
        return 2

    if args.list:
        print(json.dumps({"ok": True, "methods": protos.list_methods()}))
        return 0

    if not args.target or not args.method:
        sys.stderr.write("--target and --method are required\n")
        return 2
    try:
        method = protos.method(args.method)
    except KeyError as error:
        sys.stderr.write(f"{error}\n")
        return 2

    if args.request_file:
        with open(args.request_file, "r", encoding="utf-8") as f:
            request_json = f.read()
    else:
        request_json = args.request if args.request is not None else "{}"
    request_class = protos.message_class(method.input_type.full_name)
    response_class = protos.message_class(method.output_type.full_name)
    request = json_format.Parse(request_json, request_class())
    metadata = [tuple(m.split("=", 1)) for m in args.metadata]
    path = f"/{method.containing_service.full_name}/{method.name}"

    responses = []
    result = {"ok": True, "code": 0, "code_name": "OK", "details": "", "responses": responses}
    with grpc.insecure_channel(args.target) as channel:
        try:
            if method.server_streaming:
                call = channel.unary_stream(path, request_serializer=request_class.SerializeToString,
                                            response_deserializer=response_class.FromString)
                for reply in call(request, timeout=args.deadline, metadata=metadata):
                    responses.append(_to_dict(reply))
            else:
                call = channel.unary_unary(path, request_serializer=request_class.SerializeToString,
                                           response_deserializer=response_class.FromString)
                responses.append(_to_dict(call(request, timeout=args.deadline, metadata=metadata)))
        except grpc.RpcError as error:
            code = error.code()
            result.update(ok=False, code=code.value[0], code_name=code.name, details=error.details() or "")
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
