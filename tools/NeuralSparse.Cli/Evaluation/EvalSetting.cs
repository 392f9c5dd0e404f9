using System.Globalization;
using NeuralSparse.Client.Queries;
using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Cli.Evaluation;

/// <summary>One search setting to measure: two-phase off (<see cref="TwoPhase"/> null) or on with given parameters.</summary>
internal sealed record EvalSetting(string Label, TwoPhaseParameters? TwoPhase)
{
    /// <summary>One-phase search: every query token scores every matching document.</summary>
    public static EvalSetting Off { get; } = new("off", null);

    /// <summary>The processor's defaults (prune_ratio 0.4, expansion_rate 5).</summary>
    public static EvalSetting On { get; } = new("on (default)", TwoPhaseParameters.Default);

    /// <summary>Off, on, then every prune ratio × expansion rate not equal to the default.</summary>
    public static IReadOnlyList<EvalSetting> Sweep(IEnumerable<float> pruneRatios, IEnumerable<float> expansionRates, SparsePruneType pruneType)
    {
        ArgumentNullException.ThrowIfNull(pruneRatios);
        ArgumentNullException.ThrowIfNull(expansionRates);
        var settings = new List<EvalSetting> { Off };
        TwoPhaseParameters defaults = pruneType == SparsePruneType.MaxRatio ? TwoPhaseParameters.Default : TwoPhaseParameters.Default with { PruneType = pruneType };
        if (pruneType == SparsePruneType.MaxRatio)
        {
            settings.Add(On);
        }

        float[] rates = [.. expansionRates.Distinct()];
        foreach (float ratio in pruneRatios.Distinct())
        {
            foreach (float rate in rates)
            {
                TwoPhaseParameters parameters = defaults with { PruneRatio = ratio, ExpansionRate = rate };
                parameters.Validate(); // the server's message for an impossible value, before anything runs
                if (parameters != TwoPhaseParameters.Default)
                {
                    settings.Add(new EvalSetting(string.Create(CultureInfo.InvariantCulture, $"{ratio:0.###} × {rate:0.###}"), parameters));
                }
            }
        }

        return settings;
    }
}
