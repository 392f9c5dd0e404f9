using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Models.Hub;
using NeuralSparse.Onnx.Graph;
using NeuralSparse.Onnx.Proto;

namespace NeuralSparse.Onnx.Hub;

/// <summary>
/// Builds the ONNX graph of a Hugging Face model folder and keeps it in a cache folder, one entry per set of inputs:
/// <c>&lt;cache&gt;/&lt;hash&gt;/model.onnx</c> (the graph, kilobytes) + <c>weights.bin</c> (its initializers, as ONNX
/// external data) + <c>inputs.json</c> (what the hash covers). The hash covers the builder's format version, the
/// precision, the logit columns, and the bytes of config.json and every weight file, so a restart reuses the entry
/// and any changed input builds a new one. Entries are written into a temporary folder and renamed into place, so a
/// crash never leaves a half-written entry and concurrent starts do not collide. The model folder itself is only
/// read (it can be a read-only mount).
/// </summary>
internal static class HubGraphCache
{
    /// <summary>The graph file of an entry.</summary>
    public const string GraphFileName = "model.onnx";

    /// <summary>The external-data file of an entry.</summary>
    public const string WeightsFileName = "weights.bin";

    /// <summary>The record of an entry's inputs.</summary>
    public const string InputsFileName = "inputs.json";

    /// <summary>Bump when the built graph changes for the same inputs, so old entries are not reused.</summary>
    private const int FormatVersion = 1;

    /// <summary>Returns the graph file for <paramref name="model"/>, building it into the cache when no entry matches.</summary>
    /// <exception cref="NeuralSparseException">Kind ModelLoad: the weights do not fit config.json, or the cache cannot be written.</exception>
    public static string GetOrBuild(SparseModelDefinition model, HubModelSource hub, OnnxBackendOptions options, ILogger logger)
    {
        var clock = Stopwatch.StartNew();
        int columns = model.Tokenizer.VocabularySize;
        (string key, JsonObject inputs) = Key(model, hub, options.WeightPrecision, columns);
        string root = ResolveRoot(options.GraphCacheDirectory, logger);
        string entry = Path.Combine(root, key);
        string graphPath = Path.Combine(entry, GraphFileName);
        if (IsComplete(entry))
        {
            OnnxBackendLog.HubGraphReused(logger, model.Name, entry);
            return graphPath;
        }

        // Entries only appear whole (renamed into place); anything else there was damaged by hand: rebuild it.
        TryDelete(entry);

        string staging = Path.Combine(root, $".{key}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(staging);
            Build(hub, options.WeightPrecision, columns, staging);
            File.WriteAllText(Path.Combine(staging, InputsFileName), inputs.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            try
            {
                Directory.Move(staging, entry);
            }
            catch (IOException) when (IsComplete(entry))
            {
                // Another process built the same entry first; theirs is identical.
                Directory.Delete(staging, recursive: true);
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            TryDelete(staging);
            throw ex is InvalidDataException
                ? NeuralSparseException.ModelLoad(ex.Message, ex)
                : NeuralSparseException.ModelLoad(
                    $"Cannot write the built graph of '{model.Directory}' into the cache folder '{root}': {ex.Message} Set the graph cache folder (NeuralSparse:GraphCacheDirectory, --cache-dir) to a writable place.", ex);
        }

        RemoveSupersededEntries(root, key, model.Directory, options.WeightPrecision);
        OnnxBackendLog.HubGraphBuilt(logger, model.Name, hub.Config.Describe(), entry, clock.Elapsed.TotalSeconds);
        return graphPath;
    }

    /// <summary>The cache root: the configured folder, else the user's cache folder, else the temporary folder.</summary>
    internal static string ResolveRoot(string? configured, ILogger logger) =>
        ResolveRoot(configured, logger, Environment.GetEnvironmentVariable("XDG_CACHE_HOME"), Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

    /// <summary><see cref="ResolveRoot(string?, ILogger)"/> with the environment passed in (for tests).</summary>
    internal static string ResolveRoot(string? configured, ILogger logger, string? xdg, string? home)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Path.GetFullPath(configured);
        }

        string? preferred = !string.IsNullOrEmpty(xdg) ? xdg
            : !string.IsNullOrEmpty(home) ? Path.Combine(home, ".cache")
            : null;
        string fallback = Path.Combine(Path.GetTempPath(), "neural-sparse", "graphs");
        if (preferred is null)
        {
            return fallback;
        }

        string candidate = Path.Combine(preferred, "neural-sparse", "graphs");
        try
        {
            Directory.CreateDirectory(candidate);
            string probe = Path.Combine(candidate, $".probe-{Guid.NewGuid():N}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
            return candidate;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A read-only root filesystem (the Helm chart's) has a writable temporary folder only.
            OnnxBackendLog.GraphCacheFallback(logger, candidate, fallback, ex.Message);
            return fallback;
        }
    }

    private static void Build(HubModelSource hub, WeightPrecision precision, int columns, string staging)
    {
        ModelProto graph;
        using (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.Open(hub.WeightFiles))
        using (var weights = new ExternalDataWriter(Path.Combine(staging, WeightsFileName)))
        {
            graph = MaskedLmGraphBuilder.Build(
                hub.Config, checkpoint, new MaskedLmGraphOptions { Precision = precision, OutputColumns = columns }, weights);
            weights.Flush();
        }

        using FileStream stream = File.Create(Path.Combine(staging, GraphFileName));
        graph.WriteTo(stream);
        stream.Flush(flushToDisk: true);
    }

    private static (string Key, JsonObject Inputs) Key(SparseModelDefinition model, HubModelSource hub, WeightPrecision precision, int columns)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var inputs = new JsonObject();
        void Add(string name, string value)
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"{name}={value}\n"));
            inputs[name] = value;
        }

        Add("format", FormatVersion.ToString(CultureInfo.InvariantCulture));
        Add("precision", precision.ToString());
        Add("columns", columns.ToString(CultureInfo.InvariantCulture));
        Add("source", model.Directory);
        byte[] buffer = new byte[1 << 20];
        foreach (string file in hub.WeightFiles.Prepend(hub.ConfigPath))
        {
            // Content, not timestamps: a git checkout or a copied volume changes modification times, not models.
            using var fileHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using (FileStream stream = new(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan))
            {
                int read;
                while ((read = stream.Read(buffer)) > 0)
                {
                    fileHash.AppendData(buffer, 0, read);
                }
            }

            Add(Path.GetFileName(file), Convert.ToHexStringLower(fileHash.GetHashAndReset()));
        }

        string key = Convert.ToHexStringLower(hash.GetHashAndReset())[..32];
        return (key, inputs);
    }

    /// <summary>Older entries built from the same folder at the same precision: their inputs have since changed.</summary>
    private static void RemoveSupersededEntries(string root, string key, string source, WeightPrecision precision)
    {
        foreach (string directory in Directory.EnumerateDirectories(root))
        {
            string name = Path.GetFileName(directory);
            if (name == key || name.StartsWith('.'))
            {
                continue;
            }

            try
            {
                using JsonDocument inputs = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(directory, InputsFileName)));
                if (inputs.RootElement.TryGetProperty("source", out JsonElement s) && s.GetString() == source
                    && inputs.RootElement.TryGetProperty("precision", out JsonElement p) && p.GetString() == precision.ToString())
                {
                    // A process still running on it keeps its open files (Linux unlinks, the data stays until closed).
                    Directory.Delete(directory, recursive: true);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
            {
                // Not ours to judge, or in use: leave it.
            }
        }
    }

    private static bool IsComplete(string entry) =>
        File.Exists(Path.Combine(entry, InputsFileName)) && File.Exists(Path.Combine(entry, GraphFileName)) && File.Exists(Path.Combine(entry, WeightsFileName));

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: a leftover staging folder is ignored by lookups.
        }
    }
}
