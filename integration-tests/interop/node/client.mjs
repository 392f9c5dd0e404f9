// Interop client for the sidecar's gRPC API using the official grpc-js stack (proto files parsed by proto-loader).
// Usage: node client.mjs <host:port> <proto root> [identity|gzip] [api key]. With gzip, every message the client sends is
// gzip-compressed (grpc-encoding: gzip). Prints one JSON object with what each call returned.
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const [address, protoRoot, compression = "identity", apiKey] = process.argv.slice(2);
const definition = protoLoader.loadSync(["neuralsparse/v1/neural_sparse.proto", "grpc/health/v1/health.proto"], {
  includeDirs: [protoRoot], keepCase: false, longs: Number, enums: String, defaults: true,
});
const loaded = grpc.loadPackageDefinition(definition);
const credentials = grpc.credentials.createInsecure();
// grpc-js compression algorithms: 0 identity, 1 deflate, 2 gzip.
const channelOptions = compression === "gzip" ? { "grpc.default_compression_algorithm": 2 } : {};
const encoder = new loaded.neuralsparse.v1.SparseEncoder(address, credentials, channelOptions);
const health = new loaded.grpc.health.v1.Health(address, credentials, channelOptions);
const metadata = new grpc.Metadata();
if (apiKey) metadata.set("authorization", `Bearer ${apiKey}`);
const deadline = () => new Date(Date.now() + 30000);

const unary = (client, method, request) => new Promise((resolve) =>
  client[method](request, metadata, { deadline: deadline() }, (error, response) =>
    resolve(error ? { code: error.code, details: error.details } : { code: 0, response })));

const result = { compression };
result.health = await unary(health, "check", { service: "" });
result.info = await unary(encoder, "info", {});
result.encode = await unary(encoder, "encode", { texts: ["hello world", "", "the weather in ny"], includeTokens: true });
result.query = await unary(encoder, "encode", { model: "doc", texts: ["What's the weather in ny now?"], kind: "ENCODE_KIND_QUERY", includeTokens: true });
result.tokenize = await unary(encoder, "tokenize", { texts: ["Hello, world!"] });
result.unknownModel = await unary(encoder, "encode", { model: "nope", texts: ["a"] });
result.badPrune = await unary(encoder, "encode", { texts: ["a"], prune: { type: "PRUNE_TYPE_TOP_K", ratio: 0.5 } });

result.stream = await new Promise((resolve) => {
  const responses = [];
  const call = encoder.encodeStream(metadata, { deadline: deadline() });
  call.on("data", (response) => responses.push(response.vectors.length));
  call.on("error", (error) => resolve({ code: error.code, details: error.details, responses }));
  call.on("end", () => resolve({ code: 0, responses }));
  call.write({ texts: ["hello"] });
  call.write({ texts: ["a", "b"] });
  call.write({ texts: ["c", "d", "e"] });
  call.end();
});

result.watch = await new Promise((resolve) => {
  const call = health.watch({ service: "neuralsparse.v1.SparseEncoder" }, { deadline: deadline() });
  call.on("data", (response) => { resolve({ code: 0, status: response.status }); call.cancel(); });
  call.on("error", (error) => { if (error.code !== grpc.status.CANCELLED) resolve({ code: error.code, details: error.details }); });
});

console.log(JSON.stringify(result));
encoder.close();
health.close();
