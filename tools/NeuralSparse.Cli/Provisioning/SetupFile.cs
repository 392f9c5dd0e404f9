using System.Text.Json;
using System.Text.Json.Serialization;
using NeuralSparse.Client.Provisioning;
using NeuralSparse.Client.Queries;
using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Cli.Provisioning;

/// <summary>
/// <c>setup.json</c>: what <c>provision</c> sets up (the SDK's <see cref="NeuralSparseSetup"/>). Unknown fields are
/// errors, so a typo never silently falls back to a default.
/// </summary>
internal sealed record SetupFile
{
    public required string Index { get; init; }

    /// <summary>The sidecar as the cluster's nodes reach it; defaults to --sidecar.</summary>
    public string? SidecarUrl { get; init; }

    /// <summary>Defaults to --model.</summary>
    public string? SidecarModel { get; init; }

    public string? SidecarApiKey { get; init; }

    public bool SparseAnn { get; init; }

    public string? TextField { get; init; }

    public string? VectorField { get; init; }

    public PruneFile? IngestPrune { get; init; }

    public int? IngestBatchSize { get; init; }

    /// <summary>The two-phase search pipeline; absent: the processor's defaults; <c>{"enabled": false}</c>: none.</summary>
    public TwoPhaseFile? TwoPhase { get; init; }

    public int? DeployTimeoutSeconds { get; init; }

    /// <summary>Reads and checks the file; the message names the file and what is wrong.</summary>
    public static NeuralSparseSetup Load(string path, string? sidecarUrl, string? model)
    {
        SetupFile file;
        try
        {
            file = JsonSerializer.Deserialize(File.ReadAllText(path), SetupJson.Default.SetupFile) ?? throw new CliException($"{path} is empty.");
        }
        catch (FileNotFoundException)
        {
            throw new CliException($"{path} does not exist.");
        }
        catch (JsonException ex)
        {
            throw new CliException($"{path}: {ex.Message}", ex);
        }

        string url = file.SidecarUrl ?? sidecarUrl ?? throw new CliException($"{path}: set \"sidecarUrl\" (the sidecar as the cluster reaches it) or pass --sidecar.");
        try
        {
            var twoPhase = file.TwoPhase is { } t
                ? new TwoPhaseParameters
                {
                    Enabled = t.Enabled ?? true,
                    PruneType = t.PruneType is null ? SparsePruneType.MaxRatio : SparsePruneRule.ParseType(t.PruneType),
                    PruneRatio = t.PruneRatio ?? TwoPhaseParameters.Default.PruneRatio,
                    ExpansionRate = t.ExpansionRate ?? TwoPhaseParameters.Default.ExpansionRate,
                    MaxWindowSize = t.MaxWindowSize ?? TwoPhaseParameters.Default.MaxWindowSize,
                }
                : TwoPhaseParameters.Default;
            if (twoPhase.Enabled)
            {
                twoPhase.Validate();
            }

            return new NeuralSparseSetup
            {
                Index = file.Index,
                SidecarUrl = Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) ? uri : throw new CliException($"{path}: sidecarUrl '{url}' is not an absolute URL."),
                SidecarModel = file.SidecarModel ?? model ?? throw new CliException($"{path}: set \"sidecarModel\" or pass --model."),
                SidecarApiKey = file.SidecarApiKey,
                SparseAnn = file.SparseAnn,
                TextField = file.TextField ?? "passage_text",
                VectorField = file.VectorField ?? "passage_embedding",
                IngestPrune = file.IngestPrune is { } prune ? SparsePruneRule.Parse(prune.Type, prune.Ratio) : null,
                IngestBatchSize = file.IngestBatchSize ?? 32,
                TwoPhase = twoPhase.Enabled ? twoPhase : null,
                DeployTimeout = TimeSpan.FromSeconds(file.DeployTimeoutSeconds ?? 120),
            };
        }
        catch (Exception ex) when (ex is ArgumentException or NeuralSparse.Core.Errors.NeuralSparseException)
        {
            throw new CliException($"{path}: {ex.Message}", ex);
        }
    }
}

/// <summary><c>ingestPrune</c>: <c>{"type": "max_ratio", "ratio": 0.1}</c>.</summary>
internal sealed record PruneFile
{
    public required string Type { get; init; }

    public double? Ratio { get; init; }
}

/// <summary><c>twoPhase</c>: the processor's parameters; omitted ones take the processor's defaults.</summary>
internal sealed record TwoPhaseFile
{
    public bool? Enabled { get; init; }

    public string? PruneType { get; init; }

    public float? PruneRatio { get; init; }

    public float? ExpansionRate { get; init; }

    public int? MaxWindowSize { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true)]
[JsonSerializable(typeof(SetupFile))]
internal sealed partial class SetupJson : JsonSerializerContext;
