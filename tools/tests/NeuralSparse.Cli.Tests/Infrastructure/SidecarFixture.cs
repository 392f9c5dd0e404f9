using NeuralSparse.Core.Models;
using NeuralSparse.Onnx.Synthetic;
using NeuralSparse.Sidecar.IntegrationTests;

namespace NeuralSparse.Cli.Tests.Infrastructure;

/// <summary>
/// One real sidecar process for the whole test assembly, serving the lookup-table diagnostic models "doc" (doc-only)
/// and "bi" (bi-encoder): real HTTP, real ONNX Runtime, tokens from a small vocabulary the fixtures are written in.
/// </summary>
public sealed class SidecarFixture : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "cli-sidecar-" + Guid.NewGuid().ToString("N"));
    private SidecarProcess? _sidecar;

    public string Url => $"http://127.0.0.1:{_sidecar!.HttpPort}";

    public async Task InitializeAsync()
    {
        string doc = LookupTableModel.CreateDirectory(Path.Combine(_root, "doc"), SparseModelMode.DocOnly);
        string bi = LookupTableModel.CreateDirectory(Path.Combine(_root, "bi"), SparseModelMode.BiEncoder);
        _sidecar = await SidecarProcess.StartAsync(
        [
            $"--NeuralSparse:Models:0:Directory={doc}", "--NeuralSparse:Models:0:IntraOpThreads=1",
            $"--NeuralSparse:Models:1:Directory={bi}", "--NeuralSparse:Models:1:IntraOpThreads=1",
        ]);
    }

    public async Task DisposeAsync()
    {
        if (_sidecar is not null)
        {
            await _sidecar.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class SidecarCollection : ICollectionFixture<SidecarFixture>
{
    public const string Name = "sidecar";
}
