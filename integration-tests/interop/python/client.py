"""Interop client for the sidecar's gRPC API using Debian's python3-grpcio.

Usage: /usr/bin/python3 client.py <host:port> <descriptor set file> [identity|gzip] [api key]
Message types come from a serialized FileDescriptorSet (no generated code, so any protobuf runtime works). With gzip, the
channel compresses every message it sends (grpc-encoding: gzip).
Prints one JSON object with what each call returned.
"""
import json
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

address, descriptor_path = sys.argv[1], sys.argv[2]
compression = sys.argv[3] if len(sys.argv) > 3 else "identity"
api_key = sys.argv[4] if len(sys.argv) > 4 else None

pool = descriptor_pool.DescriptorPool()
for file in descriptor_pb2.FileDescriptorSet.FromString(open(descriptor_path, "rb").read()).file:
    pool.Add(file)


def message(name):
    descriptor = pool.FindMessageTypeByName(name)
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)


channel = grpc.insecure_channel(address, compression=grpc.Compression.Gzip if compression == "gzip" else grpc.Compression.NoCompression)
metadata = [("authorization", "Bearer " + api_key)] if api_key else []


def unary(path, request, response_type):
    call = channel.unary_unary(path, request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=message(response_type).FromString)
    try:
        response = call(request, metadata=metadata, timeout=30)
        return {"code": 0, "response": json_format.MessageToDict(response)}
    except grpc.RpcError as error:
        return {"code": error.code().value[0], "details": error.details()}


EncodeRequest = message("neuralsparse.v1.EncodeRequest")
result = {
    "compression": compression,
    "health": unary("/grpc.health.v1.Health/Check", message("grpc.health.v1.HealthCheckRequest")(), "grpc.health.v1.HealthCheckResponse"),
    "encode": unary("/neuralsparse.v1.SparseEncoder/Encode",
                    EncodeRequest(texts=["hello world", "", "the weather in ny"], include_tokens=True), "neuralsparse.v1.EncodeResponse"),
    "query": unary("/neuralsparse.v1.SparseEncoder/Encode",
                   EncodeRequest(model="doc", texts=["What's the weather in ny now?"], kind=2, include_tokens=True), "neuralsparse.v1.EncodeResponse"),
    "unknownModel": unary("/neuralsparse.v1.SparseEncoder/Encode", EncodeRequest(model="nope", texts=["a"]), "neuralsparse.v1.EncodeResponse"),
}

stream = channel.stream_stream("/neuralsparse.v1.SparseEncoder/EncodeStream", request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=message("neuralsparse.v1.EncodeResponse").FromString)
requests = iter([EncodeRequest(texts=["hello"]), EncodeRequest(texts=["a", "b"]), EncodeRequest(texts=["c", "d", "e"])])
result["stream"] = {"code": 0, "responses": [len(r.vectors) for r in stream(requests, metadata=metadata, timeout=30)]}

print(json.dumps(result))
