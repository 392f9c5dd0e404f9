using System.Text.Json;
using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Core.Tokenization;

namespace NeuralSparse.Core.Models;

/// <summary>
/// Reads a model directory: <c>model.onnx</c>, <c>tokenizer.json</c> or <c>vocab.txt</c>, optional <c>idf.json</c> and
/// an optional manifest <c>neural-sparse.json</c>. Every problem is reported at load, naming the file and the fix.
/// </summary>
public static class ModelDirectory
{
    /// <summary>The manifest file name.</summary>
    public const string ManifestFileName = "neural-sparse.json";

    /// <summary>The ONNX graph file name.</summary>
    public const string ModelFileName = "model.onnx";

    /// <summary>Default maximum tokens per text, as OpenSearch's own runtime caps every model.</summary>
    public const int DefaultMaxLength = 512;

    /// <summary>Loads and validates <paramref name="directory"/>.</summary>
    /// <exception cref="NeuralSparseException">Kind <see cref="NeuralSparseErrorKind.ModelLoad"/>, naming the problem.</exception>
    public static SparseModelDefinition Load(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string root = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(root))
        {
            throw NeuralSparseException.ModelLoad(
                $"Model directory '{root}' does not exist. Point the model path at a folder holding {ModelFileName}, tokenizer.json or vocab.txt, and optionally {ManifestFileName} and idf.json.");
        }

        ModelManifestFile manifest = ReadManifest(root);
        SparseModelPreset? preset = null;
        if (manifest.Preset is { } presetName)
        {
            preset = SparseModelPreset.Find(presetName) ?? throw NeuralSparseException.ModelLoad(
                $"{ManifestPath(root)}: unknown preset '{presetName}'. Known presets: {string.Join(", ", SparseModelPreset.All.Select(p => p.ShortName))}.");
        }

        string modelPath = Path.Combine(root, ModelFileName);
        if (!File.Exists(modelPath))
        {
            throw NeuralSparseException.ModelLoad(
                $"Model directory '{root}' has no {ModelFileName}. Export the model to ONNX into it (tools/export_hub_model.py does this for hub models).");
        }

        string tokenizerPath = ResolveTokenizer(root, manifest);
        WordPieceTokenizer tokenizer;
        try
        {
            tokenizer = WordPieceTokenizer.Load(tokenizerPath);
        }
        catch (Exception ex) when (ex is InvalidDataException or JsonException or IOException)
        {
            throw NeuralSparseException.ModelLoad($"Tokenizer file '{tokenizerPath}' cannot be used: {ex.Message}", ex);
        }

        SparseModelMode mode = ParseMode(manifest.Mode, root) ?? preset?.Mode ?? throw NeuralSparseException.ModelLoad(
            $"{ManifestPath(root)}: set \"mode\" to \"doc-only\" or \"bi-encoder\", or name a \"preset\".");
        SparseActivation activation = ParseActivation(manifest.Activation, root) ?? preset?.Activation ?? SparseActivation.Log1pRelu;

        int maxLength = manifest.MaxLength ?? DefaultMaxLength;
        if (maxLength < 2)
        {
            throw NeuralSparseException.ModelLoad($"{ManifestPath(root)}: \"maxLength\" is {maxLength}; it must be at least 2 ([CLS] and [SEP]).");
        }

        float modelPruneRatio = manifest.ModelPruneRatio ?? preset?.ModelPruneRatio ?? 0f;
        if (modelPruneRatio is < 0f or >= 1f || !float.IsFinite(modelPruneRatio))
        {
            throw NeuralSparseException.ModelLoad($"{ManifestPath(root)}: \"modelPruneRatio\" is {modelPruneRatio}; it must be in [0, 1).");
        }

        HashSet<int> specials = [.. manifest.SpecialTokenIds ?? tokenizer.SpecialTokenIds];
        int[] outOfRange = [.. specials.Where(id => id < 0 || id >= tokenizer.VocabularySize)];
        if (outOfRange.Length > 0)
        {
            throw NeuralSparseException.ModelLoad(
                $"{ManifestPath(root)}: special token ids {string.Join(", ", outOfRange)} are outside the vocabulary of {tokenizer.VocabularySize} tokens in '{tokenizerPath}'.");
        }

        IdfTable? idf = LoadIdf(root, manifest, tokenizer, mode);
        string name = manifest.Name ?? preset?.ShortName ?? Path.GetFileName(root.TrimEnd(Path.DirectorySeparatorChar));

        return new SparseModelDefinition(
            name, root, modelPath, tokenizerPath, tokenizer, idf, mode, activation, maxLength, specials,
            modelPruneRatio, preset, manifest.Synthetic ?? false, manifest.Description);
    }

    /// <summary>Writes a manifest into <paramref name="directory"/>.</summary>
    internal static void WriteManifest(string directory, ModelManifestFile manifest) =>
        File.WriteAllText(
            Path.Combine(directory, ManifestFileName),
            JsonSerializer.Serialize(manifest, ModelManifestJsonContext.Default.ModelManifestFile));

    private static string ManifestPath(string root) => Path.Combine(root, ManifestFileName);

    private static ModelManifestFile ReadManifest(string root)
    {
        string path = ManifestPath(root);
        if (!File.Exists(path))
        {
            return new ModelManifestFile();
        }

        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), ModelManifestJsonContext.Default.ModelManifestFile)
                ?? throw NeuralSparseException.ModelLoad($"{path} is empty; write a JSON object or delete the file.");
        }
        catch (JsonException ex)
        {
            throw NeuralSparseException.ModelLoad($"{path} is not a valid manifest: {ex.Message}", ex);
        }
    }

    private static string ResolveTokenizer(string root, ModelManifestFile manifest)
    {
        if (manifest.Tokenizer is { } configured)
        {
            string path = Path.Combine(root, configured);
            return File.Exists(path)
                ? path
                : throw NeuralSparseException.ModelLoad($"{ManifestPath(root)} names tokenizer '{configured}', but '{path}' does not exist.");
        }

        foreach (string candidate in new[] { "tokenizer.json", "vocab.txt" })
        {
            string path = Path.Combine(root, candidate);
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw NeuralSparseException.ModelLoad(
            $"Model directory '{root}' has neither tokenizer.json nor vocab.txt. Copy the model's tokenizer file into it.");
    }

    private static IdfTable? LoadIdf(string root, ModelManifestFile manifest, WordPieceTokenizer tokenizer, SparseModelMode mode)
    {
        string path = Path.Combine(root, manifest.Idf ?? "idf.json");
        if (!File.Exists(path))
        {
            if (manifest.Idf is not null)
            {
                throw NeuralSparseException.ModelLoad($"{ManifestPath(root)} names idf file '{manifest.Idf}', but '{path}' does not exist.");
            }

            return mode == SparseModelMode.DocOnly
                ? throw NeuralSparseException.ModelLoad(
                    $"Model directory '{root}' is doc-only, so its queries are weighted by idf.json, which is missing. Copy the model's idf.json into it, or set \"mode\": \"bi-encoder\" in {ManifestFileName} if queries should go through the model.")
                : null;
        }

        try
        {
            return IdfTable.Load(path, tokenizer);
        }
        catch (Exception ex) when (ex is InvalidDataException or JsonException or IOException)
        {
            throw NeuralSparseException.ModelLoad($"Idf file '{path}' cannot be used: {ex.Message}", ex);
        }
    }

    private static SparseModelMode? ParseMode(string? value, string root) => value switch
    {
        null => null,
        ModelWireNames.DocOnly => SparseModelMode.DocOnly,
        ModelWireNames.BiEncoder => SparseModelMode.BiEncoder,
        _ => throw NeuralSparseException.ModelLoad($"{ManifestPath(root)}: \"mode\" is '{value}'; use \"doc-only\" or \"bi-encoder\"."),
    };

    private static SparseActivation? ParseActivation(string? value, string root) => value switch
    {
        null => null,
        ModelWireNames.Log1pRelu => SparseActivation.Log1pRelu,
        ModelWireNames.Log1pLog1pRelu => SparseActivation.Log1pLog1pRelu,
        _ => throw NeuralSparseException.ModelLoad(
            $"{ManifestPath(root)}: \"activation\" is '{value}'; use \"log1p_relu\" (v1/v2 models) or \"log1p_log1p_relu\" (v3 doc models)."),
    };
}
