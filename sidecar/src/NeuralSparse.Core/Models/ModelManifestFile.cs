using System.Text.Json.Serialization;

namespace NeuralSparse.Core.Models;

/// <summary>
/// The on-disk manifest <c>neural-sparse.json</c> of a model directory. Every field is optional; a preset supplies
/// defaults and explicit fields override it. Unknown fields are errors, so a typo cannot pass silently.
/// </summary>
internal sealed class ModelManifestFile
{
    /// <summary>Hub name or short name of a known model (<see cref="SparseModelPreset"/>).</summary>
    public string? Preset { get; set; }

    /// <summary>The name clients use for this model; defaults to the preset's short name, else the directory name.</summary>
    public string? Name { get; set; }

    /// <summary><c>doc-only</c> or <c>bi-encoder</c>.</summary>
    public string? Mode { get; set; }

    /// <summary><c>log1p_relu</c> or <c>log1p_log1p_relu</c>.</summary>
    public string? Activation { get; set; }

    /// <summary>Maximum tokens per text including [CLS]/[SEP]; longer texts are truncated. Default 512.</summary>
    public int? MaxLength { get; set; }

    /// <summary>Tokenizer file relative to the directory; defaults to tokenizer.json, else vocab.txt.</summary>
    public string? Tokenizer { get; set; }

    /// <summary>Query-weight file relative to the directory; defaults to idf.json when present.</summary>
    public string? Idf { get; set; }

    /// <summary>Token ids that never appear in output; defaults to the tokenizer's special tokens.</summary>
    public int[]? SpecialTokenIds { get; set; }

    /// <summary>Model-side prune: keep w &gt; ratio × max(w). Default from the preset (0.1 for v3), else 0.</summary>
    public float? ModelPruneRatio { get; set; }

    /// <summary>True for generated models with random weights (not trained); labelled as such everywhere.</summary>
    public bool? Synthetic { get; set; }

    /// <summary>Free text shown in info output.</summary>
    public string? Description { get; set; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ModelManifestFile))]
internal sealed partial class ModelManifestJsonContext : JsonSerializerContext;
