using System.Text.Json;
using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Core.Models.Hub;

/// <summary>What the backend needs to build a graph from a Hugging Face model folder.</summary>
/// <param name="ConfigPath">The folder's <c>config.json</c>.</param>
/// <param name="Config">The transformer shape it declares.</param>
/// <param name="WeightFiles">The safetensors files (an index first when sharded).</param>
internal sealed record HubModelSource(string ConfigPath, MaskedLmConfig Config, IReadOnlyList<string> WeightFiles);

/// <summary>
/// Reads the facts a Hugging Face model folder (a <c>git clone</c> of the model repository, or a hub cache snapshot)
/// states about itself: the transformer in <c>config.json</c>, the weights, and sentence-transformers' modules
/// (<c>*_SpladePooling/config.json</c> for the activation, a <c>query_*_SparseStaticEmbedding</c> or older
/// <c>query_*_IDF</c> module for doc-only query weights).
/// </summary>
internal static class HubFolder
{
    private static readonly string[] PickleWeightNames =
        ["pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "tf_model.h5", "flax_model.msgpack"];

    /// <summary>Whether <paramref name="root"/> looks like a Hugging Face model folder (it has config.json).</summary>
    public static bool HasConfig(string root) => File.Exists(Path.Combine(root, MaskedLmConfig.FileName));

    /// <summary>Weight files in formats this service does not read (PyTorch pickles, TensorFlow, Flax).</summary>
    public static string[] UnreadableWeightFiles(string root) => [.. PickleWeightNames.Where(name => File.Exists(Path.Combine(root, name)))];

    /// <summary>The message for a folder whose only weights are PyTorch pickles (or other unreadable formats).</summary>
    public static string UnreadableWeightsMessage(string root, IEnumerable<string> found) =>
        $"Model folder '{root}' holds {string.Join(", ", found)} but no model.safetensors. This service reads safetensors only: a pickled pytorch_model.bin can run arbitrary code when loaded. " +
        "Get model.safetensors from the model's hub page (most repositories have it; otherwise the hub's safetensors conversion opens a pull request with it, https://huggingface.co/spaces/safetensors/convert), " +
        "or convert once where Python is at hand: AutoModelForMaskedLM.from_pretrained(dir).save_pretrained(dir, safe_serialization=True).";

    /// <summary>
    /// The activation a sentence-transformers <c>SpladePooling</c> module declares (<c>relu</c> → log1p(relu),
    /// <c>log1p_relu</c> → the double log of the v3 models), or null when the folder has no such module.
    /// </summary>
    /// <exception cref="InvalidDataException">The module pools other than by max, or names an unknown activation.</exception>
    public static SparseActivation? SpladeActivation(string root)
    {
        string? path = FindSpladePoolingConfig(root);
        if (path is null)
        {
            return null;
        }

        using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(path));
        JsonElement config = document.RootElement;
        string strategy = config.TryGetProperty("pooling_strategy", out JsonElement s) ? s.GetString() ?? "max" : "max";
        if (strategy != "max")
        {
            throw new InvalidDataException(
                $"'{path}' sets \"pooling_strategy\" to \"{strategy}\"; OpenSearch sparse models pool by \"max\", the only strategy this service runs.");
        }

        string activation = config.TryGetProperty("activation_function", out JsonElement a) ? a.GetString() ?? "relu" : "relu";
        return activation switch
        {
            // sentence-transformers applies log1p on top of the named function: "relu" is SPLADE's log(1 + relu(x)),
            // "log1p_relu" adds a second log1p (the v3 models' "l0" activation).
            "relu" => SparseActivation.Log1pRelu,
            "log1p_relu" => SparseActivation.Log1pLog1pRelu,
            _ => throw new InvalidDataException(
                $"'{path}' sets \"activation_function\" to \"{activation}\"; use \"relu\" (log(1 + relu)) or \"log1p_relu\" (applied twice, v3), or set \"activation\" in {ModelDirectory.ManifestFileName}."),
        };
    }

    /// <summary>The folder of a doc-only query module (static idf weights), or null.</summary>
    public static string? QueryModuleDirectory(string root) =>
        SubdirectoryNames(root)
            .Where(name => name.StartsWith("query", StringComparison.Ordinal)
                && (name.EndsWith("SparseStaticEmbedding", StringComparison.Ordinal) || name.EndsWith("_IDF", StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal)
            .Select(name => Path.Combine(root, name))
            .FirstOrDefault();

    /// <summary>
    /// The per-token query weights a static-embedding module stores (tensor <c>weight</c> [vocabulary] in its
    /// <c>model.safetensors</c>), or null when it stores none (then idf.json is needed).
    /// </summary>
    public static float[]? ReadStaticQueryWeights(string moduleDirectory)
    {
        string path = Path.Combine(moduleDirectory, SafetensorsCheckpoint.SingleFileName);
        if (!File.Exists(path))
        {
            return null;
        }

        using SafetensorsFile file = SafetensorsFile.Open(path);
        if (!file.TryGetInfo("weight", out TensorInfo info) || info.Shape.Length != 1)
        {
            throw new InvalidDataException($"'{path}' has no one-dimensional tensor 'weight' of per-token query weights.");
        }

        float[] weights = new float[info.ElementCount];
        file.Read("weight", weights);
        return weights;
    }

    /// <summary>
    /// The preset a folder's location names: the folder itself (<c>opensearch-neural-sparse-encoding-doc-v3-gte</c>,
    /// as <c>git clone</c> names it, or a short name such as <c>doc-v3-gte</c>), a hub cache entry
    /// (<c>models--opensearch-project--opensearch-neural-sparse-encoding-doc-v3-gte/snapshots/…</c>), or
    /// <c>_name_or_path</c> in config.json. Null when none matches.
    /// </summary>
    public static (SparseModelPreset Preset, string Evidence)? PresetFromLocation(string root, string configPath)
    {
        var candidates = new List<(string Name, string Evidence)>();
        string folder = Path.GetFileName(root.TrimEnd(Path.DirectorySeparatorChar));
        candidates.Add((folder, $"the folder name '{folder}'"));

        foreach (string segment in root.Split(Path.DirectorySeparatorChar))
        {
            if (segment.StartsWith("models--", StringComparison.Ordinal))
            {
                candidates.Add((segment["models--".Length..].Replace("--", "/", StringComparison.Ordinal), $"the hub cache entry '{segment}'"));
            }
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(configPath));
            if (document.RootElement.TryGetProperty("_name_or_path", out JsonElement name) && name.GetString() is { Length: > 0 } value)
            {
                candidates.Add((value.TrimEnd('/'), $"\"_name_or_path\" in '{configPath}'"));
            }
        }
        catch (JsonException)
        {
            // Reported when the config is read for the architecture.
        }

        foreach ((string name, string evidence) in candidates)
        {
            if (SparseModelPreset.Find(name) is { } preset)
            {
                return (preset, evidence);
            }
        }

        return null;
    }

    private static string? FindSpladePoolingConfig(string root)
    {
        // A router repository has query_* and document_* modules; the document side runs the model.
        string[] names = [.. SubdirectoryNames(root).Where(n => n.EndsWith("SpladePooling", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
        string? chosen = names.FirstOrDefault(n => n.StartsWith("document", StringComparison.Ordinal)) ?? names.FirstOrDefault();
        string? path = chosen is null ? null : Path.Combine(root, chosen, "config.json");
        return path is not null && File.Exists(path) ? path : null;
    }

    private static IEnumerable<string> SubdirectoryNames(string root) =>
        Directory.EnumerateDirectories(root).Select(Path.GetFileName).OfType<string>();
}
