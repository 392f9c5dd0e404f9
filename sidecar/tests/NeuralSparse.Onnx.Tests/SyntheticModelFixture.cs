using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Onnx.Synthetic;
using NeuralSparse.Tests;

namespace NeuralSparse.Onnx.Tests;

/// <summary>A generated model directory plus the weights it was generated from (for the reference pass).</summary>
internal sealed record GeneratedModel(string Directory, SyntheticWeights Weights, SparseActivation Activation)
{
    public SparseModelDefinition Load() => ModelDirectory.Load(Directory);

    public SparseEncoder CreateEncoder(OnnxBackendOptions? options = null, SparseEncoderOptions? encoderOptions = null)
    {
        SparseModelDefinition model = Load();
        return new SparseEncoder(model, OnnxSparseModelBackend.Create(model, options ?? new OnnxBackendOptions { IntraOpThreads = 1 }), encoderOptions);
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

    internal GeneratedModel Generate(string name, SyntheticModelSpec spec, SparseModelMode mode, SparseActivation activation, string? preset = null)
    {
        string directory = Path.Combine(_root, name);
        SyntheticModelDirectory.Create(directory, spec, SharedData.TokenizerJson, mode == SparseModelMode.DocOnly ? SharedData.IdfJson : null, mode, activation, preset);
        return new GeneratedModel(directory, SyntheticWeights.Generate(spec), activation);
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }
}
