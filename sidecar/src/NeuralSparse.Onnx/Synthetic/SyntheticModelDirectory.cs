using Google.Protobuf;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Onnx.Graph;

namespace NeuralSparse.Onnx.Synthetic;

/// <summary>
/// Writes a complete model directory around a generated masked-LM: model.onnx, a copy of a real tokenizer file,
/// optionally idf.json, and a manifest marked <c>"synthetic": true</c>.
/// </summary>
internal static class SyntheticModelDirectory
{
    /// <summary>Creates (or overwrites) <paramref name="directory"/> and returns it.</summary>
    public static string Create(
        string directory,
        SyntheticModelSpec spec,
        string tokenizerPath,
        string? idfPath,
        SparseModelMode mode,
        SparseActivation activation = SparseActivation.Log1pRelu,
        string? preset = null,
        string? name = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentException.ThrowIfNullOrEmpty(tokenizerPath);
        Directory.CreateDirectory(directory);

        using (FileStream stream = File.Create(Path.Combine(directory, ModelDirectory.ModelFileName)))
        {
            SyntheticWeights weights = SyntheticWeights.Generate(spec);
            MaskedLmGraphBuilder.Build(weights.Config, weights).WriteTo(stream);
        }

        File.Copy(tokenizerPath, Path.Combine(directory, Path.GetFileName(tokenizerPath)), overwrite: true);
        if (idfPath is not null)
        {
            File.Copy(idfPath, Path.Combine(directory, "idf.json"), overwrite: true);
        }

        ModelDirectory.WriteManifest(directory, new ModelManifestFile
        {
            Preset = preset,
            Name = name,
            Mode = ModelWireNames.Of(mode),
            Activation = ModelWireNames.Of(activation),
            Tokenizer = Path.GetFileName(tokenizerPath),
            Synthetic = true,
            Description = $"Generated {spec.Architecture} masked-LM ({spec.Layers} layers × {spec.HiddenSize} hidden, seed {spec.Seed}) with random weights: NOT a trained model, its outputs carry no meaning.",
        });
        return directory;
    }
}
