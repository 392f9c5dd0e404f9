using System.Globalization;
using System.Text.Json.Nodes;
using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Client.Queries;

/// <summary>
/// <c>neural_sparse_two_phase_processor</c> settings with the server's defaults, and its validation mirrored
/// client-side with the server's messages, so a bad pipeline fails before it reaches the cluster.
/// </summary>
public sealed record TwoPhaseParameters
{
    /// <summary>
    /// What the processor throws for a query on a sparse ANN (SEISMIC) field (neural-search
    /// <c>NeuralSparseTwoPhaseProcessor.validateSeismicQuery</c>, 3.3.0.0 to 3.8.0.0).
    /// </summary>
    internal const string SeismicMessage = "Two phase search processor is not compatible with [seismic] field for now.";

    /// <summary>The processor's defaults: max_ratio 0.4, expansion 5.0, window at most 10,000.</summary>
    public static TwoPhaseParameters Default { get; } = new();

    /// <summary>Whether the processor runs. Defaults to true.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>How tokens are split into high and low. Defaults to max_ratio (the only type before 2.19).</summary>
    public SparsePruneType PruneType { get; init; } = SparsePruneType.MaxRatio;

    /// <summary>The split threshold. Defaults to 0.4 (invalid for top_k, which needs a positive integer).</summary>
    public float PruneRatio { get; init; } = 0.4f;

    /// <summary>Rescore window = size × expansion rate. Defaults to 5.0; at least 1.0.</summary>
    public float ExpansionRate { get; init; } = 5f;

    /// <summary>Largest allowed window. Defaults to 10,000; at least 50.</summary>
    public int MaxWindowSize { get; init; } = 10_000;

    internal SparsePruneRule PruneRule => new(PruneType, PruneRatio);

    /// <summary>
    /// The first release whose processor honours these settings: 2.15, or 2.19 for a prune type other than max_ratio
    /// (the 2.15–2.18 factory reads only prune_ratio, so alpha_mass and abs_value ran as max_ratio and top_k failed
    /// "must be within [0, 1]"; NeuralSparseTwoPhaseProcessor.Factory, 2.19.0.0).
    /// </summary>
    internal Version MinimumVersion => PruneType == SparsePruneType.MaxRatio ? Provisioning.OpenSearchVersions.TwoPhase : Provisioning.OpenSearchVersions.PruneType;

    /// <summary>Throws <see cref="ArgumentException"/> with the server's message when a value is out of range.</summary>
    public void Validate()
    {
        try
        {
            PruneRule.Validate();
        }
        catch (NeuralSparse.Core.Errors.NeuralSparseException ex)
        {
            throw new ArgumentException(ex.Message, ex);
        }

        if (!(ExpansionRate >= 1f))
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"The two_phase_parameter.expansion_rate must >= 1.0. Received: {ExpansionRate:F6}"));
        }

        if (MaxWindowSize < 50)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"The two_phase_parameter.max_window_size must >= 50. Received: {MaxWindowSize}"));
        }
    }

    /// <summary>The rescore window for a request of <paramref name="size"/> hits (10 when unset), as the processor computes it.</summary>
    public int WindowSize(int? size)
    {
        int window = (int)((size ?? 10) * ExpansionRate);
        return window >= 0 && window <= MaxWindowSize
            ? window
            : throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"The two-phase window size of neural_sparse_two_phase_processor should be [0,{MaxWindowSize}], but get the value of {window}"));
    }

    /// <summary>The body of <c>PUT /_search/pipeline/&lt;name&gt;</c>.</summary>
    public JsonObject ToSearchPipeline(string? description = null)
    {
        Validate();
        var processor = new JsonObject
        {
            ["enabled"] = Enabled,
            ["two_phase_parameter"] = new JsonObject
            {
                ["prune_type"] = PruneRule.TypeName,
                ["prune_ratio"] = Query.Number(PruneRatio),
                ["expansion_rate"] = Query.Number(ExpansionRate),
                ["max_window_size"] = MaxWindowSize,
            },
        };
        var pipeline = new JsonObject();
        if (description is not null)
        {
            pipeline["description"] = description;
        }

        pipeline["request_processors"] = new JsonArray(new JsonObject { ["neural_sparse_two_phase_processor"] = processor });
        return pipeline;
    }
}
