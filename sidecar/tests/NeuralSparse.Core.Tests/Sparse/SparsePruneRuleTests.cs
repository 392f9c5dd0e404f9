using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Core.Tests.Sparse;

public sealed class SparsePruneRuleTests
{
    // Token 2 is the maximum; tokens 1, 3 and 4 tie at 0.5; token 5 sits just under 0.4 × 0.9 = 0.36.
    private static readonly SparseVector Sample = SparseVector.FromPairs(
    [
        new(1, 0.5f), new(2, 0.9f), new(3, 0.5f), new(4, 0.5f), new(5, 0.35f),
    ]);

    [Fact]
    public void MaxRatio_KeepsWeightsAtLeastRatioTimesMax()
    {
        (SparseVector high, SparseVector low) = new SparsePruneRule(SparsePruneType.MaxRatio, 0.4f).Split(Sample);

        Assert.Equal([1, 2, 3, 4], high.TokenIds);
        Assert.Equal([5], low.TokenIds);
    }

    [Fact]
    public void MaxRatio_ThresholdIsInclusive()
    {
        // 0.5 × 0.9 = 0.45 exactly is not representable; use a ratio whose product equals a weight: 0.5 / 1.0.
        SparseVector vector = SparseVector.FromPairs([new(1, 1.0f), new(2, 0.5f), new(3, 0.25f)]);

        Assert.Equal([1, 2], new SparsePruneRule(SparsePruneType.MaxRatio, 0.5f).Apply(vector).TokenIds);
    }

    [Fact]
    public void AbsValue_KeepsWeightsAtLeastTheRatio_AndCanEmptyTheVector()
    {
        Assert.Equal([1, 2, 3, 4], new SparsePruneRule(SparsePruneType.AbsValue, 0.5f).Apply(Sample).TokenIds);
        Assert.Equal(0, new SparsePruneRule(SparsePruneType.AbsValue, 5f).Apply(Sample).Count);
    }

    [Fact]
    public void TopK_KeepsKLargest_TiesKeepTheFirstSeen()
    {
        (SparseVector high, SparseVector low) = new SparsePruneRule(SparsePruneType.TopK, 3f).Split(Sample);

        // 0.9 plus two of the three 0.5s: a newcomer replaces the heap minimum only if strictly greater.
        Assert.Equal([1, 2, 3], high.TokenIds);
        Assert.Equal([4, 5], low.TokenIds);
    }

    [Fact]
    public void AlphaMass_KeepsPrefixWithinMass_ExcludesTheCrossingEntry()
    {
        // Descending: 0.9, 0.5, 0.5, 0.5, 0.35; total 2.75; 0.6 × 2.75 = 1.65; running 0.9, 1.4 kept, 1.9 crosses.
        (SparseVector high, SparseVector low) = new SparsePruneRule(SparsePruneType.AlphaMass, 0.6f).Split(Sample);

        Assert.Equal([1, 2], high.TokenIds);
        Assert.Equal([3, 4, 5], low.TokenIds);
    }

    [Fact]
    public void AlphaMass_LargestAloneOverTheMass_PrunesEverything()
    {
        Assert.Equal(0, new SparsePruneRule(SparsePruneType.AlphaMass, 0.3f).Apply(Sample).Count);
    }

    [Fact]
    public void None_KeepsEverything()
    {
        (SparseVector high, SparseVector low) = SparsePruneRule.None.Split(Sample);

        Assert.Same(Sample, high);
        Assert.Equal(0, low.Count);
    }

    [Theory]
    [InlineData("max_ratio", 0.0)]
    [InlineData("top_k", 1.0)]
    [InlineData("alpha_mass", 0.5)]
    [InlineData("abs_value", 0.0)]
    public void Split_HighAndLow_PartitionTheVector(string type, double ratio)
    {
        (SparseVector high, SparseVector low) = SparsePruneRule.Parse(type, ratio).Split(Sample);

        Assert.Equal(Sample.TokenIds, high.TokenIds.Concat(low.TokenIds).Order());
        Assert.Empty(high.TokenIds.Intersect(low.TokenIds));
    }

    [Theory]
    [InlineData("top_k", 0.5, "Illegal prune_ratio 0.500000 for prune_type: top_k. prune_ratio should be positive integer.")]
    [InlineData("top_k", 0.0, "Illegal prune_ratio 0.000000 for prune_type: top_k. prune_ratio should be positive integer.")]
    [InlineData("max_ratio", 1.0, "Illegal prune_ratio 1.000000 for prune_type: max_ratio. prune_ratio should be in the range [0, 1).")]
    [InlineData("alpha_mass", -0.1, "Illegal prune_ratio -0.100000 for prune_type: alpha_mass. prune_ratio should be in the range [0, 1).")]
    [InlineData("abs_value", -1.0, "Illegal prune_ratio -1.000000 for prune_type: abs_value. prune_ratio should be non-negative.")]
    public void Parse_IllegalRatio_FailsWithNeuralSearchMessage(string type, double ratio, string message)
    {
        var error = Assert.Throws<NeuralSparseException>(() => SparsePruneRule.Parse(type, ratio));

        Assert.Equal(NeuralSparseErrorKind.Validation, error.Kind);
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Parse_RatioWithoutType_IsRefused()
    {
        var error = Assert.Throws<NeuralSparseException>(() => SparsePruneRule.Parse(null, 0.1));
        Assert.Equal("prune_ratio field is not supported when prune_type is not provided", error.Message);
    }

    [Fact]
    public void Parse_UnknownType_NamesIt()
    {
        var error = Assert.Throws<NeuralSparseException>(() => SparsePruneRule.Parse("max", 0.1));
        Assert.Equal("Unknown prune type: max", error.Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("none")]
    public void Parse_EmptyType_IsNone(string? type) => Assert.Same(SparsePruneRule.None, SparsePruneRule.Parse(type, null));
}
