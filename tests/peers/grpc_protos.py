"""grpc_protos.py: load .proto files into message classes at run time (shared by grpc_call.py and grpc_echo_server.py).

Uses Debian's protoc (protobuf-compiler) to build a descriptor set, then python3-protobuf's message factory:
no generated code is written anywhere.
"""

import os
import subprocess
import tempfile

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


class Protos:
    """The services and message classes of a set of .proto files under an include root."""

    def __init__(self, root, files):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "set.pb")
            done = subprocess.run(
                ["protoc", "-I", root, "--include_imports", "--descriptor_set_out=" + out, *files],
                check=False,
                capture_output=True,
            )
            if done.returncode != 0:
                raise RuntimeError("protoc failed: " + done.stderr.decode(errors="replace").strip())
            with open(out, "rb") as f:
                fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
        self.pool = descriptor_pool.DescriptorPool()
        for fd in fds.file:
            self.pool.Add(fd)
        self._factory = None if hasattr(message_factory, "GetMessageClass") else message_factory.MessageFactory(self.pool)
        self.services = {}
        for fd in fds.file:
            for service in fd.service:
                full = f"{fd.package}.{service.name}" if fd.package else service.name
                self.services[full] = self.pool.FindServiceByName(full)

    def message_class(self, full_name):
        descriptor = self.pool.FindMessageTypeByName(full_name)
        if self._factory is None:
            return message_factory.GetMessageClass(descriptor)
        return self._factory.GetPrototype(descriptor)

    def method(self, path):
        """path: "package.Service/Method" (a leading slash is allowed). Returns the method descriptor."""
        service_name, _, method_name = path.lstrip("/").partition("/")
        service = self.services.get(service_name)
        if service is None:
            raise KeyError(f"no service {service_name}")
        method = service.methods_by_name.get(method_name)
        if method is None:
            raise KeyError(f"no method {method_name} in {service_name}")
        return method

    def list_methods(self):
        out = []
        for name, service in sorted(self.services.items()):
            for m in service.methods:
                out.append({
                    "method": f"{name}/{m.name}",
                    "request": m.input_type.full_name,
                    "response": m.output_type.full_name,
                    "client_streaming": m.client_streaming if hasattr(m, "client_streaming") else False,
                    "server_streaming": m.server_streaming if hasattr(m, "server_streaming") else False,
                })
        return out
