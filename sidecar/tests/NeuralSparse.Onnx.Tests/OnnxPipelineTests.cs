using Microsoft.Extensions.Logging;
using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Onnx.Synthetic;
using NeuralSparse.Onnx.Tests.Reference;
using NeuralSparse.Tests;

using static NeuralSparse.Onnx.Tests.PipelineAssertions;

namespace NeuralSparse.Onnx.Tests;

public sealed class OnnxPipelineTests(SyntheticModelFixture fixture) : IClassFixture<SyntheticModelFixture>
{
    [SharedDataFact]
    public void Backend_TinyBert_MatchesIndependentReferenceForwardPass() => AssertMatchesReference(fixture.Bert);

    [SharedDataFact]
    public void Backend_TinyDistilBertWithDoubleLogActivation_MatchesIndependentReferenceForwardPass() =>
        AssertMatchesReference(fixture.DistilBert);

    [SharedDataFact]
    public void Backend_HostPooling_MatchesReferenceToo() =>
        AssertMatchesReference(fixture.Bert, new OnnxBackendOptions { IntraOpThreads = 1, Pooling = PoolingPlacement.Host });

    [SharedDataFact]
    public void Backend_FusedPooling_EqualsHostPooling()
    {
        foreach (GeneratedModel generated in new[] { fixture.Bert, fixture.DistilBert })
        {
            SparseModelDefinition model = generated.Load();
            ModelBatch batch = TestBatches.Padded(model, TestBatches.Texts);
            float[] fused = TestBatches.Run(model, batch, new OnnxBackendOptions { IntraOpThreads = 1, Pooling = PoolingPlacement.Graph });
            float[] host = TestBatches.Run(model, batch, new OnnxBackendOptions { IntraOpThreads = 1, Pooling = PoolingPlacement.Host });

            Assert.Equal(fused.Length, host.Length);
            Assert.True(TestBatches.MaxAbsDifference(fused, host) <= 1e-5, $"fused and host pooling differ by {TestBatches.MaxAbsDifference(fused, host)}");
        }
    }

    [SharedDataFact]
    public void Encoder_Batched_EqualsOneByOne()
    {
        string[] texts =
        [
            .. TestBatches.Texts,
            "a", "sparse retrieval with learned term weights", "OpenSearch neural sparse search in .NET",
            string.Join(' ', Enumerable.Repeat("long document text", 40)), "short", "é北京",
        ];
        using SparseEncoder batched = fixture.Bert.CreateEncoder(encoderOptions: new SparseEncoderOptions { MaxBatchSize = 4, MaxBatchTokens = 600 });
        using SparseEncoder single = fixture.Bert.CreateEncoder(encoderOptions: new SparseEncoderOptions { MaxBatchSize = 1 });

        IReadOnlyList<SparseVector> together = batched.EncodeDocuments(texts);
        for (int i = 0; i < texts.Length; i++)
        {
            SparseVector alone = single.EncodeDocuments([texts[i]])[0];
            AssertSameWeights(alone, together[i], 1e-5);
        }
    }

    [SharedDataFact]
    public void Encoder_KeepsInputOrderAndCount_EmptyTextsGiveEmptyVectors()
    {
        using SparseEncoder encoder = fixture.Bert.CreateEncoder();
        string[] texts = ["hello world", string.Empty, "the quick brown fox", "   ", "hello world"];

        IReadOnlyList<SparseVector> vectors = encoder.EncodeDocuments(texts);

        Assert.Equal(texts.Length, vectors.Count);
        Assert.Equal(0, vectors[1].Count);
        Assert.Equal(0, vectors[3].Count);
        Assert.True(vectors[0].Count > 0);
        AssertSameWeights(vectors[0], vectors[4], 0);
        Assert.NotEqual(vectors[0].TokenIds, vectors[2].TokenIds);
    }

    [SharedDataFact]
    public void Encoder_Output_HasNoSpecialTokensAndOnlyPositiveFiniteWeights()
    {
        using SparseEncoder encoder = fixture.Bert.CreateEncoder();

        foreach (SparseVector vector in encoder.EncodeDocuments(TestBatches.Texts))
        {
            Assert.DoesNotContain(vector.TokenIds, id => id is 0 or (>= 100 and <= 103));
            Assert.All(vector.Weights, w => Assert.True(w > 0 && float.IsFinite(w)));
            Assert.Equal(vector.TokenIds.Order(), vector.TokenIds);
        }
    }

    [SharedDataFact]
    public void Encoder_ModelPruneRatio_KeepsOnlyWeightsStrictlyAboveRatioOfMax()
    {
        // The doc-v3-distill preset carries OpenSearch's model-side rule: keep w > 0.1 × max.
        GeneratedModel v3 = fixture.Generate("v3-preset", SyntheticModelSpec.TinyDistilBert(), SparseModelMode.DocOnly,
            SparseActivation.Log1pLog1pRelu, preset: "doc-v3-distill");
        using SparseEncoder pruned = v3.CreateEncoder();
        using SparseEncoder unpruned = fixture.DistilBert.CreateEncoder();
        Assert.Equal(0.1f, pruned.Model.ModelPruneRatio);

        SparseVector all = unpruned.EncodeDocuments([TestBatches.Texts[0]])[0];
        SparseVector kept = pruned.EncodeDocuments([TestBatches.Texts[0]])[0];
        float threshold = 0.1f * all.Weights.Max();
        int[] expected = [.. all.TokenIds.Where((_, i) => all.Weights[i] > threshold)];

        Assert.Equal(expected, kept.TokenIds);
        Assert.True(kept.Count < all.Count);
    }

    [SharedDataFact]
    public void Encoder_BiEncoderQueries_GoThroughTheModel()
    {
        using SparseEncoder encoder = fixture.Bert.CreateEncoder();

        AssertSameWeights(encoder.EncodeDocuments([TestBatches.Texts[3]])[0], encoder.EncodeQueries([TestBatches.Texts[3]])[0], 0);
    }

    [SharedDataFact]
    public void Backend_ExtraLogitColumns_AreSlicedToTheVocabulary()
    {
        // GTE checkpoints can emit 30,528 columns for the 30,522-token vocabulary.
        SyntheticModelSpec spec = SyntheticModelSpec.TinyDistilBert(seed: 5) with { VocabularySize = SparseModelPreset.BertVocabularySize + 6 };
        GeneratedModel wide = fixture.Generate("wide-output", spec, SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);
        var logger = new ListLogger();

        SparseModelDefinition model = wide.Load();
        using OnnxSparseModelBackend backend = OnnxSparseModelBackend.Create(model, new OnnxBackendOptions { IntraOpThreads = 1 }, logger);

        Assert.Contains(logger.Entries, e => e.Event.Name == "ExtraLogitColumns");
        AssertMatchesReference(wide);
    }

    [SharedDataFact]
    public void Load_OutputNarrowerThanVocabulary_FailsNamingModelAndTokenizer()
    {
        SyntheticModelSpec spec = SyntheticModelSpec.TinyBert() with { VocabularySize = 1000 };
        GeneratedModel narrow = fixture.Generate("narrow-output", spec, SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);
        SparseModelDefinition model = narrow.Load();

        var error = Assert.Throws<NeuralSparseException>(() => OnnxSparseModelBackend.Create(model));

        Assert.Equal(NeuralSparseErrorKind.ModelLoad, error.Kind);
        Assert.Contains("model.onnx", error.Message, StringComparison.Ordinal);
        Assert.Contains("tokenizer.json", error.Message, StringComparison.Ordinal);
        Assert.Contains("1000", error.Message, StringComparison.Ordinal);
    }

    [SharedDataFact]
    public void Load_PresetArchitectureMismatch_IsReported()
    {
        // A DistilBERT graph (no token_type_ids) declared as the BERT-based doc-v2-mini.
        GeneratedModel mislabeled = fixture.Generate("mislabeled", SyntheticModelSpec.TinyDistilBert(), SparseModelMode.DocOnly,
            SparseActivation.Log1pRelu, preset: "doc-v2-mini");

        var error = Assert.Throws<NeuralSparseException>(() => OnnxSparseModelBackend.Create(mislabeled.Load()));

        Assert.Contains("token_type_ids", error.Message, StringComparison.Ordinal);
        Assert.Contains("doc-v2-mini", error.Message, StringComparison.Ordinal);
    }

    [SharedDataFact]
    public void Load_GarbageModelFile_FailsNamingTheFile()
    {
        GeneratedModel copy = fixture.Generate("garbage", SyntheticModelSpec.TinyBert(), SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);
        File.WriteAllText(Path.Combine(copy.Directory, "model.onnx"), "this is not protobuf");

        var error = Assert.Throws<NeuralSparseException>(() => OnnxSparseModelBackend.Create(copy.Load()));

        Assert.Equal(NeuralSparseErrorKind.ModelLoad, error.Kind);
        Assert.Contains("model.onnx", error.Message, StringComparison.Ordinal);
    }

    [SharedDataFact]
    public void Load_CudaRequestedWithoutCuda_FallsBackToCpuWithAWarning()
    {
        var logger = new ListLogger();
        using OnnxSparseModelBackend backend = OnnxSparseModelBackend.Create(
            fixture.Bert.Load(), new OnnxBackendOptions { Device = ExecutionDevice.Cuda, IntraOpThreads = 1 }, logger);

        if (backend.Device == ExecutionDevice.Cuda)
        {
            return; // A GPU build on a GPU machine: nothing to fall back from.
        }

        Assert.Contains(logger.Entries, e => e.Level == LogLevel.Warning && e.Event.Name == "DeviceUnavailable");
        Assert.Equal("CPUExecutionProvider", backend.ExecutionProvider);
        Assert.Contains("on CPUExecutionProvider", backend.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void TheReferencedPackage_IsTheBuildsFlavor()
    {
        // The Gpu flavor (Microsoft.ML.OnnxRuntime.Gpu.Linux) was built with the CUDA provider, the CPU package without;
        // either way the CPU provider is there, so the Gpu flavor serves CPU sessions on machines without CUDA.
        Assert.Contains("CPUExecutionProvider", OnnxSparseModelBackend.AvailableProviders);
#if ORT_GPU
        Assert.Contains("CUDAExecutionProvider", OnnxSparseModelBackend.AvailableProviders);
#else
        Assert.DoesNotContain("CUDAExecutionProvider", OnnxSparseModelBackend.AvailableProviders);
#endif
    }

    [SharedDataFact]
    public void Load_CudaRequiredWithoutCuda_FailsWithTheFix()
    {
        var options = new OnnxBackendOptions { Device = ExecutionDevice.Cuda, RequireDevice = true, IntraOpThreads = 1 };
        try
        {
            using OnnxSparseModelBackend backend = OnnxSparseModelBackend.Create(fixture.Bert.Load(), options);
            Assert.Equal(ExecutionDevice.Cuda, backend.Device);
        }
        catch (NeuralSparseException error)
        {
            Assert.Equal(NeuralSparseErrorKind.ModelLoad, error.Kind);
            Assert.Contains("OnnxRuntimeFlavor=Gpu", error.Message, StringComparison.Ordinal);
        }
    }

    [SharedDataFact]
    public void Run_CancelledToken_ThrowsOperationCanceled()
    {
        using SparseEncoder encoder = fixture.Bert.CreateEncoder();
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() => encoder.EncodeDocuments(TestBatches.Texts, cancellationToken: cancellation.Token));
    }

    [SharedDataFact]
    public void Synthetic_Generation_IsDeterministicPerSeed()
    {
        SyntheticWeights a = SyntheticWeights.Generate(SyntheticModelSpec.TinyBert(seed: 3));
        SyntheticWeights b = SyntheticWeights.Generate(SyntheticModelSpec.TinyBert(seed: 3));
        SyntheticWeights c = SyntheticWeights.Generate(SyntheticModelSpec.TinyBert(seed: 4));

        Assert.Equal(a["bert.embeddings.word_embeddings.weight"], b["bert.embeddings.word_embeddings.weight"]);
        Assert.Equal(a["cls.predictions.bias"], b["cls.predictions.bias"]);
        Assert.NotEqual(a["bert.embeddings.word_embeddings.weight"], c["bert.embeddings.word_embeddings.weight"]);
        Assert.True(fixture.Bert.Load().Synthetic);
    }

    private static void AssertSameWeights(SparseVector expected, SparseVector actual, double tolerance)
    {
        Dictionary<int, float> e = expected.TokenIds.Zip(expected.Weights).ToDictionary(p => p.First, p => p.Second);
        Dictionary<int, float> a = actual.TokenIds.Zip(actual.Weights).ToDictionary(p => p.First, p => p.Second);
        foreach (int id in e.Keys.Union(a.Keys))
        {
            double difference = Math.Abs(e.GetValueOrDefault(id) - a.GetValueOrDefault(id));
            Assert.True(difference <= tolerance, $"token {id}: {e.GetValueOrDefault(id)} vs {a.GetValueOrDefault(id)}");
        }
    }
}
