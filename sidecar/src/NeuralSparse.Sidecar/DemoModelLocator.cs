using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Onnx.Synthetic;

namespace NeuralSparse.Sidecar;

/// <summary>
/// Finds the model the main job serves when none is configured: a generated model at the real doc-v2-mini shape,
/// built once into artifacts/ with the real bert-base-uncased tokenizer and idf table. Its weights are random:
/// it demonstrates the pipeline and its speed, not relevance.
/// </summary>
internal static class DemoModelLocator
{
    public const string ModelDirectoryVariable = "NEURAL_SPARSE_MODEL_DIR";
    public const string BertDataVariable = "NEURAL_SPARSE_BERT_DATA";

    public static string Resolve(string? configuredDirectory, TextWriter output)
    {
        string? directory = configuredDirectory ?? Environment.GetEnvironmentVariable(ModelDirectoryVariable);
        if (!string.IsNullOrEmpty(directory))
        {
            return directory;
        }

        string bertData = FindBertData() ?? throw new InvalidOperationException(
            $"No model is configured and no bert-base-uncased tokenizer was found to build the generated demo model. Either pass --model-dir <dir> (or set {ModelDirectoryVariable}) to a model directory, or set {BertDataVariable} to a folder holding bert-base-uncased tokenizer.json (or vocab.txt) and idf.json.");

        string root = FindRepositoryRoot() ?? AppContext.BaseDirectory;
        string target = Path.Combine(root, "artifacts", "models", "synthetic-doc-v2-mini");
        if (!File.Exists(Path.Combine(target, ModelDirectory.ManifestFileName)))
        {
            output.WriteLine($"Generating the demo model (doc-v2-mini shape, random weights) into {target} ...");
            string tokenizer = File.Exists(Path.Combine(bertData, "tokenizer.json"))
                ? Path.Combine(bertData, "tokenizer.json")
                : Path.Combine(bertData, "vocab.txt");
            SparseModelPreset preset = SparseModelPreset.Find("doc-v2-mini")!;
            SyntheticModelDirectory.Create(target, SyntheticModelSpec.FromPreset(preset), tokenizer, Path.Combine(bertData, "idf.json"),
                SparseModelMode.DocOnly, SparseActivation.Log1pRelu, preset: preset.ShortName, name: "synthetic-doc-v2-mini");
        }

        return target;
    }

    private static string? FindBertData()
    {
        string? configured = Environment.GetEnvironmentVariable(BertDataVariable);
        if (!string.IsNullOrEmpty(configured))
        {
            return configured;
        }

        string? root = FindRepositoryRoot();
        string? candidate = root is null ? null : Path.GetFullPath(Path.Combine(root, "..", "shared", "data", "bert-base-uncased"));
        return candidate is not null && File.Exists(Path.Combine(candidate, "idf.json")) ? candidate : null;
    }

    private static string? FindRepositoryRoot()
    {
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "global.json")) && Directory.Exists(Path.Combine(dir.FullName, "sidecar")))
                {
                    return dir.FullName;
                }
            }
        }

        return null;
    }
}
