using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace NeuralSparse.Sidecar.IntegrationTests;

/// <summary>
/// Two independent gRPC implementations call the running sidecar: node's @grpc/grpc-js (protos parsed by
/// proto-loader) and Debian's python3-grpcio (C core). Their results must match the HTTP API's.
/// </summary>
public sealed class GrpcInteropTests(ModelDirectories models) : IClassFixture<ModelDirectories>
{
    private static readonly string InteropRoot = Path.Combine(SidecarProcess.RepositoryRoot, "integration-tests", "interop");

    [NodeInteropTheory]
    [InlineData("identity")]
    [InlineData("gzip")]
    public async Task NodeGrpcJs_CallsEveryMethod_ResultsMatchHttp(string compression)
    {
        string nodeDirectory = Path.Combine(InteropRoot, "node");
        if (!Directory.Exists(Path.Combine(nodeDirectory, "node_modules", "@grpc", "grpc-js")))
        {
            (int npm, string npmOutput) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], nodeDirectory, TimeSpan.FromMinutes(3));
            Assert.True(npm == 0, "npm ci failed:\n" + npmOutput);
        }

        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args());
        (int exit, string output) = await RunAsync("node",
            ["client.mjs", $"127.0.0.1:{sidecar.GrpcPort}", Path.Combine(SidecarProcess.RepositoryRoot, "proto"), compression], nodeDirectory, TimeSpan.FromMinutes(1));
        Assert.True(exit == 0, output);
        JsonElement result = JsonDocument.Parse(output).RootElement;

        Assert.Equal(compression, result.GetProperty("compression").GetString());
        Assert.Equal("SERVING", result.GetProperty("health").GetProperty("response").GetProperty("status").GetString());
        Assert.Equal(["bi", "doc"], result.GetProperty("info").GetProperty("response").GetProperty("models").EnumerateArray().Select(m => m.GetProperty("name").GetString()));
        await AssertMatchesHttpAsync(sidecar, result.GetProperty("encode").GetProperty("response").GetProperty("vectors"), "/v1/documents", ["hello world", "", "the weather in ny"]);
        await AssertMatchesHttpAsync(sidecar, result.GetProperty("query").GetProperty("response").GetProperty("vectors"), "/v1/models/doc/queries", ["What's the weather in ny now?"]);
        Assert.Equal(["[CLS]", "hello", ",", "world", "!", "[SEP]"],
            result.GetProperty("tokenize").GetProperty("response").GetProperty("texts")[0].GetProperty("tokens").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(5, result.GetProperty("unknownModel").GetProperty("code").GetInt32()); // NOT_FOUND
        Assert.Equal(3, result.GetProperty("badPrune").GetProperty("code").GetInt32()); // INVALID_ARGUMENT
        Assert.Equal(0, result.GetProperty("stream").GetProperty("code").GetInt32());
        Assert.Equal([1, 2, 3], result.GetProperty("stream").GetProperty("responses").EnumerateArray().Select(r => r.GetInt32()));
        Assert.Equal("SERVING", result.GetProperty("watch").GetProperty("status").GetString());
    }

    [PythonInteropTheory]
    [InlineData("identity")]
    [InlineData("gzip")]
    public async Task PythonGrpcio_CallsEncodeStreamAndHealth_ResultsMatchHttp(string compression)
    {
        string descriptors = Path.Combine(models.Root, $"descriptors-{compression}.pb");
        var set = new FileDescriptorSet();
        set.File.Add(FileDescriptorProto.Parser.ParseFrom(Grpc.Health.V1.HealthReflection.Descriptor.SerializedData));
        set.File.Add(FileDescriptorProto.Parser.ParseFrom(Grpc.V1.NeuralSparseReflection.Descriptor.SerializedData));
        await File.WriteAllBytesAsync(descriptors, set.ToByteArray());

        await using SidecarProcess sidecar = await SidecarProcess.StartAsync(models.Args());
        (int exit, string output) = await RunAsync(InteropTools.Python,
            [Path.Combine(InteropRoot, "python", "client.py"), $"127.0.0.1:{sidecar.GrpcPort}", descriptors, compression], InteropRoot, TimeSpan.FromMinutes(1));
        Assert.True(exit == 0, output);
        JsonElement result = JsonDocument.Parse(output).RootElement;

        Assert.Equal(compression, result.GetProperty("compression").GetString());
        Assert.Equal("SERVING", result.GetProperty("health").GetProperty("response").GetProperty("status").GetString());
        await AssertMatchesHttpAsync(sidecar, result.GetProperty("encode").GetProperty("response").GetProperty("vectors"), "/v1/documents", ["hello world", "", "the weather in ny"]);
        await AssertMatchesHttpAsync(sidecar, result.GetProperty("query").GetProperty("response").GetProperty("vectors"), "/v1/models/doc/queries", ["What's the weather in ny now?"]);
        Assert.Equal(5, result.GetProperty("unknownModel").GetProperty("code").GetInt32());
        Assert.Equal([1, 2, 3], result.GetProperty("stream").GetProperty("responses").EnumerateArray().Select(r => r.GetInt32()));
    }

    /// <summary>Each gRPC vector (tokens + weights, as a client decoded it) equals the HTTP map for the same text.</summary>
    private static async Task AssertMatchesHttpAsync(SidecarProcess sidecar, JsonElement vectors, string route, string[] texts)
    {
        HttpResponseMessage response = await sidecar.Http.PostAsync(new Uri(route, UriKind.Relative),
            new StringContent(JsonSerializer.Serialize(texts), Encoding.UTF8, "application/json"));
        JsonElement http = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(texts.Length, vectors.GetArrayLength());
        for (int i = 0; i < texts.Length; i++)
        {
            JsonElement vector = vectors[i];
            string[] tokens = vector.TryGetProperty("tokens", out JsonElement t) ? [.. t.EnumerateArray().Select(x => x.GetString()!)] : [];
            float[] weights = vector.TryGetProperty("weights", out JsonElement w) ? [.. w.EnumerateArray().Select(x => x.GetSingle())] : [];
            var expected = http[i].EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetSingle());
            Assert.Equal(expected, tokens.Zip(weights).ToDictionary(p => p.First, p => p.Second));
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string program, string[] args, string workingDirectory, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var cancellation = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cancellation.Token);
        string error = await stderr;
        return (process.ExitCode, process.ExitCode == 0 ? await stdout : await stdout + error);
    }
}

/// <summary>Runs when node is installed; the test installs the pinned grpc-js packages with npm ci.</summary>
internal sealed class NodeInteropTheoryAttribute : TheoryAttribute
{
    public NodeInteropTheoryAttribute()
    {
        if (!InteropTools.ToolExists("node", "--version"))
        {
            Skip = "node is not installed: the @grpc/grpc-js interop test needs Node.js and npm.";
        }
    }
}

/// <summary>The external programs the interop tests run.</summary>
internal static class InteropTools
{
    /// <summary>Debian's interpreter, which the python3-grpcio package is built for (not a pyenv one on PATH).</summary>
    public const string Python = "/usr/bin/python3";

    internal static bool ToolExists(string program, params string[] args)
    {
        try
        {
            var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            using Process process = Process.Start(start)!;
            process.WaitForExit(30_000);
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}

/// <summary>Runs when Debian's python3-grpcio and python3-protobuf are installed (.ci/run installs them).</summary>
internal sealed class PythonInteropTheoryAttribute : TheoryAttribute
{
    public PythonInteropTheoryAttribute()
    {
        if (!InteropTools.ToolExists(InteropTools.Python, "-c", "import grpc, google.protobuf"))
        {
            Skip = "python3-grpcio is not installed: apt-get install python3-grpcio python3-protobuf to run the Python interop test.";
        }
    }
}
