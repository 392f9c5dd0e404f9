using NeuralSparse.Core.Models;
using NeuralSparse.Onnx.Synthetic;

namespace NeuralSparse.Sidecar.IntegrationTests;

/// <summary>Lookup-table model directories ("bi" bi-encoder, "doc" doc-only) in a temp folder, shared by a test class.</summary>
public sealed class ModelDirectories : IDisposable
{
    public ModelDirectories()
    {
        Root = Path.Combine(Path.GetTempPath(), "sidecar-it-" + Guid.NewGuid().ToString("N"));
        BiEncoder = LookupTableModel.CreateDirectory(Path.Combine(Root, "bi"), SparseModelMode.BiEncoder);
        DocOnly = LookupTableModel.CreateDirectory(Path.Combine(Root, "doc"), SparseModelMode.DocOnly);
    }

    public string Root { get; }

    public string BiEncoder { get; }

    public string DocOnly { get; }

    /// <summary>Arguments serving both models, plus <paramref name="extra"/>.</summary>
    public string[] Args(params string[] extra) =>
    [
        $"--NeuralSparse:Models:0:Directory={BiEncoder}", "--NeuralSparse:Models:0:IntraOpThreads=1",
        $"--NeuralSparse:Models:1:Directory={DocOnly}", "--NeuralSparse:Models:1:IntraOpThreads=1",
        .. extra,
    ];

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
