using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Core.Tests.Sparse;

public sealed class SparseVectorTests
{
    [Fact]
    public void FromDense_KeepsOnlyPositiveFiniteNonExcludedWeights()
    {
        float[] dense = [0.5f, 0f, -1f, float.NaN, float.PositiveInfinity, 2f, 1e-30f];

        SparseVector vector = SparseVector.FromDense(dense, new HashSet<int> { 0 });

        Assert.Equal([5, 6], vector.TokenIds);
        Assert.Equal([2f, 1e-30f], vector.Weights);
    }

    [Fact]
    public void ToTokenMap_WordAndTokenIdFormats()
    {
        SparseVector vector = SparseVector.FromPairs([new(2075, 0.25f), new(7592, 1.5f)]);
        string[] vocabulary = new string[8000];
        vocabulary[2075] = "##ing";
        vocabulary[7592] = "hello";

        IReadOnlyDictionary<string, float> words = vector.ToTokenMap(id => vocabulary[id], SparseKeyFormat.Word);
        IReadOnlyDictionary<string, float> ids = vector.ToTokenMap(id => vocabulary[id], SparseKeyFormat.TokenId);

        Assert.Equal(new Dictionary<string, float> { ["##ing"] = 0.25f, ["hello"] = 1.5f }, words);
        Assert.Equal(new Dictionary<string, float> { ["2075"] = 0.25f, ["7592"] = 1.5f }, ids);
    }

    [Fact]
    public void Dot_SumsProductsOfSharedTokens()
    {
        SparseVector a = SparseVector.FromPairs([new(1, 2f), new(3, 1f), new(9, 4f)]);
        SparseVector b = SparseVector.FromPairs([new(3, 5f), new(9, 0.5f), new(10, 7f)]);

        Assert.Equal(7.0, a.Dot(b), 6);
    }
}
