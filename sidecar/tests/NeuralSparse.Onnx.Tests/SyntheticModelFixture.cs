using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Onnx.Synthetic;
using NeuralSparse.Tests;

namespace NeuralSparse.Onnx.Tests;

/// <summary>
/// A generated model directory (model.onnx, or a Hugging Face folder) plus the weights it was generated from (for
/// the reference pass), and the backend options tests use with it (one thread; a private graph cache).
/// </summary>
internal sealed record GeneratedModel(string Directory, SyntheticWeights Weights, SparseActivation Activation, OnnxBackendOptions Options)
{
    public SparseModelDefinition Load() => ModelDirectory.Load(Directory);

    public SparseEncoder CreateEncoder(OnnxBackendOptions? options = null, SparseEncoderOptions? encoderOptions = null)
    {
        SparseModelDefinition model = Load();
        return new SparseEncoder(model, OnnxSparseModelBackend.Create(model, options ?? Options), encoderOptions);
    }
}

/// <summary>Generates the tiny test models once per test class, into a temporary folder removed afterwards.</summary>
public sealed class SyntheticModelFixture : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "neural-sparse-tests-" + Guid.NewGuid().ToString("N"));
    private readonly Lazy<GeneratedModel> _bert;
    private readonly Lazy<GeneratedModel> _distilBert;

    public SyntheticModelFixture()
    {
        _bert = new(() => Generate("tiny-bert", SyntheticModelSpec.TinyBert(), SparseModelMode.BiEncoder, SparseActivation.Log1pRelu));
        _distilBert = new(() => Generate("tiny-distilbert", SyntheticModelSpec.TinyDistilBert(), SparseModelMode.DocOnly, SparseActivation.Log1pLog1pRelu));
    }

    internal GeneratedModel Bert => _bert.Value;

    internal GeneratedModel DistilBert => _distilBert.Value;

    internal string Root => _root;

    /// <summary>Backend options with this fixture's own graph cache, so tests never touch the user's cache.</summary>
    internal OnnxBackendOptions Options => new() { IntraOpThreads = 1, GraphCacheDirectory = Path.Combine(_root, "graph-cache") };

    internal GeneratedModel Generate(string name, SyntheticModelSpec spec, SparseModelMode mode, SparseActivation activation, string? preset = null)
    {
        string directory = Path.Combine(_root, name);
        SyntheticModelDirectory.Create(directory, spec, SharedData.TokenizerJson, mode == SparseModelMode.DocOnly ? SharedData.IdfJson : null, mode, activation, preset);
        return new GeneratedModel(directory, SyntheticWeights.Generate(spec), activation, Options);
    }

    /// <summary>Writes <paramref name="weights"/> as a Hugging Face model folder (no model.onnx, no manifest).</summary>
    internal GeneratedModel GenerateHub(
        string name, SyntheticWeights weights, SparseModelMode mode, SparseActivation activation, SyntheticHubFolderOptions? options = null)
    {
        string directory = Path.Combine(_root, name);
        SyntheticHubFolder.Create(directory, weights, SharedData.TokenizerJson, mode == SparseModelMode.DocOnly ? SharedData.IdfJson : null, activation, options);
        return new GeneratedModel(directory, weights, activation, Options);
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }
}
