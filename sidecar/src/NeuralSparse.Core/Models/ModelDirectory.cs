using System.Text.Json;
using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Models.Hub;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Core.Tokenization;

namespace NeuralSparse.Core.Models;

/// <summary>
/// Reads a model directory: either <c>model.onnx</c> or a Hugging Face model folder as the hub serves it
/// (<c>config.json</c> + <c>model.safetensors</c>, from which the backend builds the graph), plus
/// <c>tokenizer.json</c> or <c>vocab.txt</c>, optional <c>idf.json</c> and an optional manifest
/// <c>neural-sparse.json</c>. Every problem is reported at load, naming the file and the fix.
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
                $"Model directory '{root}' does not exist. Point the model path at a Hugging Face model folder (config.json, model.safetensors, tokenizer.json or vocab.txt, idf.json for doc-only models) or a folder holding {ModelFileName} and a tokenizer, optionally with {ManifestFileName}.");
        }

        ModelManifestFile manifest = ReadManifest(root);
        SparseModelPreset? preset = null;
        if (manifest.Preset is { } presetName)
        {
            preset = SparseModelPreset.Find(presetName) ?? throw NeuralSparseException.ModelLoad(
                $"{ManifestPath(root)}: unknown preset '{presetName}'. Known presets: {string.Join(", ", SparseModelPreset.All.Select(p => p.ShortName))}.");
        }

        string modelPath = Path.Combine(root, ModelFileName);
        HubModelSource? hub = null;
        if (!File.Exists(modelPath))
        {
            hub = LoadHubSource(root);
            modelPath = hub.WeightFiles.First(f => f.EndsWith(".safetensors", StringComparison.Ordinal));
            preset = CheckPreset(root, hub, preset, manifest.Preset is null ? null : $"\"preset\" in {ManifestPath(root)}");
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

        if (hub is not null && hub.Config.VocabularySize < tokenizer.VocabularySize)
        {
            throw NeuralSparseException.ModelLoad(
                $"'{hub.ConfigPath}' has vocab_size {hub.Config.VocabularySize} but '{tokenizerPath}' has {tokenizer.VocabularySize} tokens: the tokenizer does not belong to this model. Use the tokenizer files from the model's own repository.");
        }

        SparseModelMode mode = ParseMode(manifest.Mode, root) ?? preset?.Mode ?? (hub is not null ? FolderMode(root, manifest) : throw NeuralSparseException.ModelLoad(
            $"{ManifestPath(root)}: set \"mode\" to \"doc-only\" or \"bi-encoder\", or name a \"preset\"."));
        SparseActivation activation = ParseActivation(manifest.Activation, root) ?? preset?.Activation
            ?? (hub is not null ? FolderActivation(root) : null) ?? SparseActivation.Log1pRelu;

        int maxLength = manifest.MaxLength ?? Math.Min(DefaultMaxLength, hub?.Config.PositionCapacity ?? DefaultMaxLength);
        if (maxLength < 2)
        {
            throw NeuralSparseException.ModelLoad($"{ManifestPath(root)}: \"maxLength\" is {maxLength}; it must be at least 2 ([CLS] and [SEP]).");
        }

        if (hub is not null && maxLength > hub.Config.PositionCapacity)
        {
            throw NeuralSparseException.ModelLoad(
                $"{ManifestPath(root)}: \"maxLength\" is {maxLength} but '{hub.ConfigPath}' allows {hub.Config.PositionCapacity} positions; lower \"maxLength\".");
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
            modelPruneRatio, preset, manifest.Synthetic ?? false, manifest.Description, hub);
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

    private static HubModelSource LoadHubSource(string root)
    {
        string configPath = Path.Combine(root, MaskedLmConfig.FileName);
        string[] unreadable = HubFolder.UnreadableWeightFiles(root);
        IReadOnlyList<string> weightFiles;
        try
        {
            weightFiles = SafetensorsCheckpoint.FindFiles(root);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException)
        {
            throw NeuralSparseException.ModelLoad(ex.Message, ex);
        }

        if (weightFiles.Count == 0)
        {
            throw NeuralSparseException.ModelLoad(unreadable.Length > 0
                ? HubFolder.UnreadableWeightsMessage(root, unreadable)
                : HubFolder.HasConfig(root)
                    ? $"Model folder '{root}' has config.json but no {SafetensorsCheckpoint.SingleFileName}. Download the model's {SafetensorsCheckpoint.SingleFileName} from its hub repository into it (git lfs pull after a git clone)."
                    : $"Model directory '{root}' has neither {ModelFileName} nor a Hugging Face model (config.json + {SafetensorsCheckpoint.SingleFileName}). Point the model path at the model's hub folder (git clone of the repository, with git lfs), or put an ONNX export named {ModelFileName} into it.");
        }

        if (!HubFolder.HasConfig(root))
        {
            throw NeuralSparseException.ModelLoad(
                $"Model folder '{root}' has {Path.GetFileName(weightFiles[0])} but no config.json, which says what the weights are. Copy config.json from the model's hub repository into it.");
        }

        try
        {
            return new HubModelSource(configPath, MaskedLmConfig.Read(configPath), weightFiles);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException)
        {
            throw NeuralSparseException.ModelLoad(ex.Message, ex);
        }
    }

    /// <summary>The manifest's preset, else the one the folder's location names; it must describe the same architecture.</summary>
    private static SparseModelPreset? CheckPreset(string root, HubModelSource hub, SparseModelPreset? declared, string? declaredEvidence)
    {
        (SparseModelPreset Preset, string Evidence)? found = declared is not null
            ? (declared, declaredEvidence!)
            : HubFolder.PresetFromLocation(root, hub.ConfigPath);
        if (found is not { } match)
        {
            return null;
        }

        if (match.Preset.Architecture != hub.Config.Architecture)
        {
            throw NeuralSparseException.ModelLoad(
                $"{match.Evidence} names preset '{match.Preset.ShortName}' ({match.Preset.Architecture}), but '{hub.ConfigPath}' describes a {hub.Config.Describe()}. Rename the folder, or set \"preset\" (or \"mode\" and \"activation\") in {ManifestFileName} to match the weights.");
        }

        return match.Preset;
    }

    /// <summary>A hub folder is doc-only when it ships query weights: idf.json or a static-embedding query module.</summary>
    private static SparseModelMode FolderMode(string root, ModelManifestFile manifest) =>
        manifest.Idf is not null || File.Exists(Path.Combine(root, "idf.json")) || HubFolder.QueryModuleDirectory(root) is not null
            ? SparseModelMode.DocOnly
            : SparseModelMode.BiEncoder;

    private static SparseActivation? FolderActivation(string root)
    {
        try
        {
            return HubFolder.SpladeActivation(root);
        }
        catch (Exception ex) when (ex is InvalidDataException or JsonException or IOException)
        {
            throw NeuralSparseException.ModelLoad(ex.Message, ex);
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

            if (mode == SparseModelMode.DocOnly && LoadStaticQueryWeights(root, tokenizer) is { } staticWeights)
            {
                return staticWeights;
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

    /// <summary>Query weights from a sentence-transformers static-embedding module, when the folder has one.</summary>
    private static IdfTable? LoadStaticQueryWeights(string root, WordPieceTokenizer tokenizer)
    {
        string? module = HubFolder.QueryModuleDirectory(root);
        if (module is null)
        {
            return null;
        }

        try
        {
            return HubFolder.ReadStaticQueryWeights(module) is { } weights
                ? IdfTable.FromWeights(weights, tokenizer, Path.Combine(module, SafetensorsCheckpoint.SingleFileName))
                : null;
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException)
        {
            throw NeuralSparseException.ModelLoad($"{ex.Message} Copy the model's idf.json into '{root}' instead.", ex);
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
