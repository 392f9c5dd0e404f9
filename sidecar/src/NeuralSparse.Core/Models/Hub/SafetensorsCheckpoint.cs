using System.Text.Json;

namespace NeuralSparse.Core.Models.Hub;

/// <summary>
/// A model's weights as Hugging Face saves them: one <c>model.safetensors</c>, or shards listed by
/// <c>model.safetensors.index.json</c> (<c>{"weight_map": {tensor: file}}</c>).
/// </summary>
internal sealed class SafetensorsCheckpoint : ITensorSource, IDisposable
{
    /// <summary>The single-file checkpoint name.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>The shard index name.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, SafetensorsFile> _byTensor;

    private SafetensorsCheckpoint(string origin, List<SafetensorsFile> files)
    {
        Origin = origin;
        _files = files;
        _byTensor = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        foreach (SafetensorsFile file in files)
        {
            foreach (TensorInfo tensor in file.Tensors)
            {
                _byTensor.TryAdd(tensor.Name, file);
            }
        }
    }

    /// <inheritdoc />
    public string Origin { get; }

    /// <summary>
    /// The files a checkpoint in <paramref name="directory"/> consists of (the index first, then its shards), or an
    /// empty list when the directory has neither a single file nor an index.
    /// </summary>
    /// <exception cref="InvalidDataException">The index is malformed or names a shard that is missing.</exception>
    public static IReadOnlyList<string> FindFiles(string directory)
    {
        string single = Path.Combine(directory, SingleFileName);
        if (File.Exists(single))
        {
            return [single];
        }

        string index = Path.Combine(directory, IndexFileName);
        if (!File.Exists(index))
        {
            return [];
        }

        var files = new List<string> { index };
        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(index));
            if (!document.RootElement.TryGetProperty("weight_map", out JsonElement map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"'{index}' has no \"weight_map\" object.");
            }

            foreach (string shard in map.EnumerateObject().Select(p => p.Value.GetString() ?? string.Empty).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            {
                string path = Path.Combine(directory, shard);
                if (shard.Length == 0 || Path.GetFileName(shard) != shard || !File.Exists(path))
                {
                    throw new InvalidDataException($"'{index}' lists shard '{shard}', which is not a file in '{directory}'. Download every shard the index names.");
                }

                files.Add(path);
            }
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"'{index}' is not valid JSON: {ex.Message}", ex);
        }

        return files;
    }

    /// <summary>Opens the checkpoint made of <paramref name="files"/> (as returned by <see cref="FindFiles"/>).</summary>
    public static SafetensorsCheckpoint Open(IReadOnlyList<string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        string[] tensorFiles = [.. files.Where(f => f.EndsWith(".safetensors", StringComparison.Ordinal))];
        var opened = new List<SafetensorsFile>(tensorFiles.Length);
        try
        {
            foreach (string file in tensorFiles)
            {
                opened.Add(SafetensorsFile.Open(file));
            }
        }
        catch
        {
            opened.ForEach(f => f.Dispose());
            throw;
        }

        return new SafetensorsCheckpoint(files.Count == 0 ? "(no files)" : files[0], opened);
    }

    /// <inheritdoc />
    public bool TryGetInfo(string name, out TensorInfo info)
    {
        if (_byTensor.TryGetValue(name, out SafetensorsFile? file))
        {
            return file.TryGetInfo(name, out info);
        }

        info = null!;
        return false;
    }

    /// <inheritdoc />
    public void Read(string name, Span<float> destination) =>
        (_byTensor.TryGetValue(name, out SafetensorsFile? file) ? file : throw new KeyNotFoundException($"'{Origin}' has no tensor '{name}'."))
            .Read(name, destination);

    /// <inheritdoc />
    public void Dispose() => _files.ForEach(f => f.Dispose());
}
