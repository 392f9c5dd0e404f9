using Microsoft.Extensions.Logging.Abstractions;
using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Models.Hub;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Onnx.Graph;
using NeuralSparse.Onnx.Hub;
using NeuralSparse.Onnx.Proto;
using NeuralSparse.Onnx.Synthetic;
using NeuralSparse.Tests;
using static NeuralSparse.Onnx.Tests.PipelineAssertions;

namespace NeuralSparse.Onnx.Tests.Hub;

/// <summary>
/// Hugging Face folders written here from generated weights (Hugging Face names and layouts, safetensors) and served
/// as they are: against the independent reference pass, against the same weights as model.onnx, through the graph
/// cache, and with every kind of bad weights. Parity with PyTorch itself is <see cref="PyTorchParityTests"/>.
/// </summary>
public sealed class HubModelTests(SyntheticModelFixture fixture) : IClassFixture<SyntheticModelFixture>
{
    [SharedDataFact]
    public void BertAndDistilBertFolders_MatchTheIndependentReference()
    {
        AssertMatchesReference(fixture.GenerateHub("hub-bert", Weights(SyntheticModelSpec.TinyBert()), SparseModelMode.BiEncoder, SparseActivation.Log1pRelu));
        AssertMatchesReference(fixture.GenerateHub("hub-distil", Weights(SyntheticModelSpec.TinyDistilBert()), SparseModelMode.DocOnly, SparseActivation.Log1pLog1pRelu));
    }

    [SharedDataTheory]
    [InlineData(SparseModelArchitecture.Bert)]
    [InlineData(SparseModelArchitecture.DistilBert)]
    [InlineData(SparseModelArchitecture.Gte)]
    public void Folder_GivesExactlyWhatTheSameWeightsGiveAsModelOnnx(SparseModelArchitecture architecture)
    {
        SyntheticModelSpec spec = Spec(architecture);
        GeneratedModel hub = fixture.GenerateHub($"same-{architecture}", Weights(spec), SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);
        GeneratedModel onnx = fixture.Generate($"same-{architecture}-onnx", spec, SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);

        SparseModelDefinition hubModel = hub.Load();
        ModelBatch batch = TestBatches.Padded(hubModel, TestBatches.Texts);
        float[] fromHub = TestBatches.Run(hubModel, batch, hub.Options);
        float[] fromOnnx = TestBatches.Run(onnx.Load(), batch, onnx.Options);

        Assert.Equal(fromOnnx, fromHub);
        Assert.Contains(fromHub, w => w > 0);
    }

    [SharedDataFact]
    public void Gte_ExtraEmbeddingRows_AreSlicedOffInTheBuiltGraph()
    {
        GeneratedModel gte = fixture.GenerateHub("gte-columns", Weights(SyntheticModelSpec.TinyGte()), SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);
        SparseModelDefinition model = gte.Load();
        Assert.Equal(SparseModelPreset.BertVocabularySize + 6, model.Hub!.Config.VocabularySize);

        string graphPath = HubGraphCache.GetOrBuild(model, model.Hub, gte.Options, NullLogger.Instance);
        using FileStream stream = File.OpenRead(graphPath);
        GraphSignature signature = PoolingGraphRewriter.Inspect(ModelProto.Parser.ParseFrom(stream));

        Assert.Equal(SparseModelPreset.BertVocabularySize, signature.StaticColumns);
        Assert.False(signature.TakesTokenTypeIds);
    }

    [SharedDataFact]
    public void Gte_LongAndShortTextsBatched_EqualEachEncodedAlone()
    {
        GeneratedModel gte = fixture.GenerateHub("gte-long", Weights(SyntheticModelSpec.TinyGte()), SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);
        File.WriteAllText(Path.Combine(gte.Directory, ModelDirectory.ManifestFileName), """{ "maxLength": 2048 }""");
        string[] texts = [string.Join(' ', Enumerable.Repeat("sparse retrieval with rotary positions", 200)), "short", "hello world"];
        using SparseEncoder batched = gte.CreateEncoder(encoderOptions: new SparseEncoderOptions { MaxBatchSize = 3, MaxBatchTokens = 3 * 2048 });
        using SparseEncoder single = gte.CreateEncoder(encoderOptions: new SparseEncoderOptions { MaxBatchSize = 1, MaxBatchTokens = 2048 });

        Assert.True(batched.Tokenize(texts[0]).Length > 1000);
        IReadOnlyList<SparseVector> together = batched.EncodeDocuments(texts);
        for (int i = 0; i < texts.Length; i++)
        {
            SparseVector alone = single.EncodeDocuments([texts[i]])[0];
            Assert.Equal(alone.TokenIds, together[i].TokenIds);
            Assert.All(alone.Weights.Zip(together[i].Weights), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-5, $"{p.First} vs {p.Second}"));
        }
    }

    [SharedDataTheory]
    [InlineData(SparseModelArchitecture.Bert)]
    [InlineData(SparseModelArchitecture.Gte)]
    public void BuiltGraph_ChunkedHeadsEqualTheFusedHead_AndInt8FindsItsWeights(SparseModelArchitecture architecture)
    {
        // The built graph keeps its weights beside it (external data); the head rewrites and the int8 option must
        // find and read them there.
        GeneratedModel hub = fixture.GenerateHub($"heads-{architecture}", Weights(Spec(architecture)), SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);
        SparseModelDefinition model = hub.Load();
        ModelBatch batch = TestBatches.Padded(model, TestBatches.Texts);
        float[] fused = TestBatches.Run(model, batch, hub.Options with { Head = HeadEvaluation.Fused });

        foreach (HeadEvaluation head in new[] { HeadEvaluation.GraphChunks, HeadEvaluation.HostChunks })
        {
            var logger = new ListLogger();
            using ISparseModelBackend backend = SparseModelBackends.Create(model, hub.Options with { Head = head, HeadChunkTokens = 7 }, logger);
            Assert.DoesNotContain(logger.Entries, e => e.Event.Name == "HeadNotChunked");
            Assert.True(TestBatches.MaxAbsDifference(fused, TestBatches.Run(backend, model, batch)) <= 1e-5, $"{head} differs from the fused head");
        }

        var int8Log = new ListLogger();
        using ISparseModelBackend int8 = SparseModelBackends.Create(model, hub.Options with { Quantization = WeightQuantization.Int8 }, int8Log);
        string quantized = Assert.Single(int8Log.Entries, e => e.Event.Name == "WeightsQuantized").Message;
        Assert.DoesNotContain(" 0 MatMul", quantized, StringComparison.Ordinal);
        Assert.Contains(TestBatches.Run(int8, model, batch), w => w > 0);
    }

    [SharedDataTheory]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void HalfPrecisionCheckpoint_ConvertsToTheSameFloatsAsItsFloat32Copy(string dataType)
    {
        // The float32 folder holds the weights already rounded to the half type; conversion must then be exact.
        SyntheticWeights weights = Weights(SyntheticModelSpec.TinyDistilBert(seed: 21));
        SyntheticWeights rounded = weights.Map(v => dataType == "F16"
            ? (float)(Half)v
            : BitConverter.Int32BitsToSingle(SafetensorsWriter.ToBFloat16(v) << 16));
        GeneratedModel half = fixture.GenerateHub($"half-{dataType}", weights, SparseModelMode.BiEncoder, SparseActivation.Log1pRelu,
            new SyntheticHubFolderOptions { DataType = dataType });
        GeneratedModel full = fixture.GenerateHub($"full-{dataType}", rounded, SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);

        SparseModelDefinition model = half.Load();
        ModelBatch batch = TestBatches.Padded(model, TestBatches.Texts);

        Assert.Equal(TestBatches.Run(full.Load(), batch, full.Options), TestBatches.Run(model, batch, half.Options));
    }

    [SharedDataFact]
    public void ShardedCheckpoint_GivesWhatTheSingleFileGives()
    {
        SyntheticWeights weights = Weights(SyntheticModelSpec.TinyBert(seed: 31));
        GeneratedModel single = fixture.GenerateHub("single", weights, SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);
        GeneratedModel sharded = fixture.GenerateHub("sharded", weights, SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);
        File.Delete(Path.Combine(sharded.Directory, SafetensorsCheckpoint.SingleFileName));
        TensorInfo[] tensors = [.. weights.Tensors];
        string[] shardNames = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
        var map = new System.Text.Json.Nodes.JsonObject();
        for (int shard = 0; shard < 2; shard++)
        {
            TensorInfo[] part = [.. tensors.Where((_, i) => i % 2 == shard)];
            SafetensorsWriter.Write(Path.Combine(sharded.Directory, shardNames[shard]), part.Select(t => (t.Name, t.Shape, weights[t.Name])));
            foreach (TensorInfo tensor in part)
            {
                map[tensor.Name] = shardNames[shard];
            }
        }

        File.WriteAllText(Path.Combine(sharded.Directory, SafetensorsCheckpoint.IndexFileName), new System.Text.Json.Nodes.JsonObject { ["weight_map"] = map }.ToJsonString());
        SparseModelDefinition model = sharded.Load();
        ModelBatch batch = TestBatches.Padded(model, TestBatches.Texts);

        Assert.Equal(3, model.Hub!.WeightFiles.Count);
        Assert.Equal(TestBatches.Run(single.Load(), batch, single.Options), TestBatches.Run(model, batch, sharded.Options));
    }

    [SharedDataFact]
    public void StaticEmbeddingQueryModule_WeighsQueriesAsIdfJsonDoes()
    {
        SyntheticWeights weights = Weights(SyntheticModelSpec.TinyDistilBert());
        GeneratedModel withIdf = fixture.GenerateHub("idf-json", weights, SparseModelMode.DocOnly, SparseActivation.Log1pLog1pRelu);
        GeneratedModel withModule = fixture.GenerateHub("idf-module", weights, SparseModelMode.DocOnly, SparseActivation.Log1pLog1pRelu,
            new SyntheticHubFolderOptions { StaticQueryModule = true });
        Assert.False(File.Exists(Path.Combine(withModule.Directory, "idf.json")));

        using SparseEncoder a = withIdf.CreateEncoder();
        using SparseEncoder b = withModule.CreateEncoder();

        Assert.Equal(SparseModelMode.DocOnly, b.Model.Mode);
        Assert.Equal(SparseActivation.Log1pLog1pRelu, b.Model.Activation);
        foreach (string text in TestBatches.Texts)
        {
            SparseVector expected = a.EncodeQueries([text])[0];
            SparseVector actual = b.EncodeQueries([text])[0];
            Assert.Equal(expected.TokenIds, actual.TokenIds);
            Assert.Equal(expected.Weights, actual.Weights);
        }
    }

    [SharedDataFact]
    public void Cache_ASecondLoadReusesTheBuiltGraph_AndTheModelFolderIsOnlyRead()
    {
        GeneratedModel hub = fixture.GenerateHub("cache-reuse", Weights(SyntheticModelSpec.TinyBert(seed: 41)), SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);
        OnnxBackendOptions options = hub.Options with { GraphCacheDirectory = Path.Combine(fixture.Root, "cache-reuse-graphs") };
        Dictionary<string, (long, DateTime)> before = Snapshot(hub.Directory);
        SparseModelDefinition model = hub.Load();
        ModelBatch batch = TestBatches.Padded(model, TestBatches.Texts);

        (float[] first, ListLogger firstLog) = Run(model, batch, options);
        (float[] second, ListLogger secondLog) = Run(hub.Load(), batch, options);

        Assert.Contains(firstLog.Entries, e => e.Event.Name == "HubGraphBuilt");
        Assert.Contains(secondLog.Entries, e => e.Event.Name == "HubGraphReused");
        Assert.DoesNotContain(secondLog.Entries, e => e.Event.Name == "HubGraphBuilt");
        Assert.Equal(first, second);
        Assert.Equal(before, Snapshot(hub.Directory));

        string entry = Assert.Single(Directory.GetDirectories(options.GraphCacheDirectory!));
        Assert.Equal(["inputs.json", "model.onnx", "weights.bin"], Directory.GetFiles(entry).Select(Path.GetFileName).Order());
        Assert.True(new FileInfo(Path.Combine(entry, "model.onnx")).Length < 64 * 1024, "the graph keeps its weights in weights.bin");
    }

    [SharedDataTheory]
    [InlineData("model.safetensors")]
    [InlineData("config.json")]
    public void Cache_AChangedInput_BuildsANewGraphAndDropsTheOldOne(string changed)
    {
        GeneratedModel hub = fixture.GenerateHub($"cache-change-{changed}", Weights(SyntheticModelSpec.TinyBert(seed: 43)), SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);
        OnnxBackendOptions options = hub.Options with { GraphCacheDirectory = Path.Combine(fixture.Root, $"cache-change-{changed}-graphs") };
        SparseModelDefinition model = hub.Load();
        ModelBatch batch = TestBatches.Padded(model, TestBatches.Texts);
        (float[] before, _) = Run(model, batch, options);
        string oldEntry = Assert.Single(Directory.GetDirectories(options.GraphCacheDirectory!));

        string path = Path.Combine(hub.Directory, changed);
        if (changed == "config.json")
        {
            File.AppendAllText(path, "\n"); // same settings, different bytes: still a new input
        }
        else
        {
            SafetensorsWriter.Write(path, Weights(SyntheticModelSpec.TinyBert(seed: 44)));
        }

        (float[] after, ListLogger log) = Run(hub.Load(), batch, options);

        Assert.Contains(log.Entries, e => e.Event.Name == "HubGraphBuilt");
        string newEntry = Assert.Single(Directory.GetDirectories(options.GraphCacheDirectory!));
        Assert.NotEqual(oldEntry, newEntry);
        if (changed == "config.json")
        {
            Assert.Equal(before, after);
        }
        else
        {
            Assert.NotEqual(before, after);
        }
    }

    [SharedDataFact]
    public void Cache_AnEntryDamagedByHand_IsBuiltAgain()
    {
        GeneratedModel hub = fixture.GenerateHub("cache-damaged", Weights(SyntheticModelSpec.TinyBert(seed: 45)), SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);
        OnnxBackendOptions options = hub.Options with { GraphCacheDirectory = Path.Combine(fixture.Root, "cache-damaged-graphs") };
        SparseModelDefinition model = hub.Load();
        ModelBatch batch = TestBatches.Padded(model, TestBatches.Texts);
        (float[] before, _) = Run(model, batch, options);
        string entry = Assert.Single(Directory.GetDirectories(options.GraphCacheDirectory!));
        File.Delete(Path.Combine(entry, "weights.bin"));

        (float[] after, ListLogger log) = Run(model, batch, options);

        Assert.Contains(log.Entries, e => e.Event.Name == "HubGraphBuilt");
        Assert.Equal(before, after);
    }

    [SharedDataFact]
    public void Cache_FolderThatCannotBeWritten_FailsNamingItAndTheSetting()
    {
        GeneratedModel hub = fixture.GenerateHub("cache-unwritable", Weights(SyntheticModelSpec.TinyBert()), SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);
        string notAFolder = Path.Combine(fixture.Root, "cache-is-a-file");
        File.WriteAllText(notAFolder, "a file where the cache folder should be");

        var error = Assert.Throws<NeuralSparseException>(() => OnnxSparseModelBackend.Create(hub.Load(), hub.Options with { GraphCacheDirectory = notAFolder }));

        Assert.Equal(NeuralSparseErrorKind.ModelLoad, error.Kind);
        Assert.Contains(notAFolder, error.Message, StringComparison.Ordinal);
        Assert.Contains("GraphCacheDirectory", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CacheRoot_IsTheUserCache_OrTheTemporaryFolderWhenThatCannotBeWritten()
    {
        string scratch = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "neural-sparse-root-" + Guid.NewGuid().ToString("N"))).FullName;
        string blocked = Path.Combine(scratch, "blocked");
        File.WriteAllText(blocked, "not a folder");
        try
        {
            var logger = new ListLogger();

            Assert.Equal(Path.Combine(scratch, "neural-sparse", "graphs"), HubGraphCache.ResolveRoot(null, logger, xdg: scratch, home: null));
            Assert.Empty(logger.Entries);
            Assert.Equal(Path.Combine(Path.GetTempPath(), "neural-sparse", "graphs"), HubGraphCache.ResolveRoot(null, logger, xdg: blocked, home: null));
            Assert.Contains(logger.Entries, e => e.Event.Name == "GraphCacheFallback");
            Assert.Equal(Path.Combine(scratch, "configured"), HubGraphCache.ResolveRoot(Path.Combine(scratch, "configured"), logger, xdg: blocked, home: null));
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    [SharedDataFact]
    public void Weights_MissingATensor_FailAtLoadNamingItAndTheFile()
    {
        SyntheticWeights weights = Weights(SyntheticModelSpec.TinyBert());
        GeneratedModel hub = fixture.GenerateHub("missing-tensor", weights, SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);
        const string Dropped = "bert.encoder.layer.1.attention.self.key.weight";
        string file = Path.Combine(hub.Directory, SafetensorsCheckpoint.SingleFileName);
        SafetensorsWriter.Write(file, weights.Tensors.Where(t => t.Name != Dropped).Select(t => (t.Name, t.Shape, weights[t.Name])));

        string[] cacheBefore = CacheEntries(hub);

        NeuralSparseException error = LoadFails(hub);

        Assert.Contains($"no tensor '{Dropped}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(file, error.Message, StringComparison.Ordinal);
        Assert.Equal(cacheBefore, CacheEntries(hub)); // no entry, and no staging folder left behind
    }

    [SharedDataFact]
    public void Weights_OfAnotherShape_FailAtLoadNamingTensorAndShapes()
    {
        GeneratedModel hub = fixture.GenerateHub("shape-mismatch", Weights(SyntheticModelSpec.TinyBert()), SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);
        string config = Path.Combine(hub.Directory, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"intermediate_size\": 64", "\"intermediate_size\": 128", StringComparison.Ordinal));
        string[] cacheBefore = CacheEntries(hub);

        NeuralSparseException error = LoadFails(hub);

        Assert.Contains("'bert.encoder.layer.0.intermediate.dense.weight'", error.Message, StringComparison.Ordinal);
        Assert.Contains("shape [64, 32]", error.Message, StringComparison.Ordinal);
        Assert.Contains("implies [128, 32]", error.Message, StringComparison.Ordinal);
        Assert.Equal(cacheBefore, CacheEntries(hub));
    }

    [SharedDataFact]
    public void Weights_DamagedFile_FailAtLoadNamingIt()
    {
        GeneratedModel hub = fixture.GenerateHub("damaged", Weights(SyntheticModelSpec.TinyBert()), SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);
        string file = Path.Combine(hub.Directory, SafetensorsCheckpoint.SingleFileName);
        byte[] bytes = File.ReadAllBytes(file);
        File.WriteAllBytes(file, bytes[..(bytes.Length / 2)]);

        NeuralSparseException error = LoadFails(hub);

        Assert.Contains(file, error.Message, StringComparison.Ordinal);
        Assert.Contains("outside", error.Message, StringComparison.Ordinal);
    }

    [SharedDataTheory]
    [InlineData(SparseModelArchitecture.Bert)]
    [InlineData(SparseModelArchitecture.Gte)]
    public void Float16Weights_RunOnCpuAndStayCloseToFloat32(SparseModelArchitecture architecture)
    {
        GeneratedModel hub = fixture.GenerateHub($"fp16-{architecture}", Weights(Spec(architecture)), SparseModelMode.BiEncoder, SparseActivation.Log1pRelu);
        SparseModelDefinition model = hub.Load();
        ModelBatch batch = TestBatches.Padded(model, TestBatches.Texts);

        float[] full = TestBatches.Run(model, batch, hub.Options);
        float[] half = TestBatches.Run(model, batch, hub.Options with { WeightPrecision = WeightPrecision.Float16 });
        using (OnnxSparseModelBackend backend = OnnxSparseModelBackend.Create(model, hub.Options with { WeightPrecision = WeightPrecision.Float16 }))
        {
            Assert.Contains("graph built from the Hugging Face weights (Float16)", backend.Description, StringComparison.Ordinal);
        }

        // float16 keeps 11 significant bits at every step; logits near ±8 are rounded to 1/128 before pooling.
        // At these deliberately large test weights (σ 0.3) BERT moves by ~0.01 and GTE by ~0.03 on weights up to
        // ~1.4, where float32 stays within 1e-6: a few hundredths is what float16 costs, not a defect.
        double largest = full.Max();
        Assert.True(TestBatches.MaxAbsDifference(full, half) <= 0.05, $"fp16 differs by {TestBatches.MaxAbsDifference(full, half)} (largest weight {largest})");
        Assert.True(TestBatches.MaxAbsDifference(full, half) > 0, "the float16 graph must differ from float32 somewhere, or it did not run in float16");
        int[] topFull = TopIds(full, 20);
        int[] topHalf = TopIds(half, 20);
        Assert.True(topFull.Intersect(topHalf).Count() >= 16, "the strongest tokens should mostly agree");
    }

    private static SyntheticModelSpec Spec(SparseModelArchitecture architecture) => architecture switch
    {
        SparseModelArchitecture.Bert => SyntheticModelSpec.TinyBert(),
        SparseModelArchitecture.DistilBert => SyntheticModelSpec.TinyDistilBert(),
        _ => SyntheticModelSpec.TinyGte(),
    };

    private static SyntheticWeights Weights(SyntheticModelSpec spec) => SyntheticWeights.Generate(spec);

    /// <summary>The strongest token ids of the first text.</summary>
    private static int[] TopIds(float[] weights, int count) =>
        [.. weights.Take(SparseModelPreset.BertVocabularySize).Select((w, i) => (w, i)).OrderByDescending(p => p.w).Take(count).Select(p => p.i)];

    private static string[] CacheEntries(GeneratedModel hub) =>
        Directory.Exists(hub.Options.GraphCacheDirectory) ? [.. Directory.GetFileSystemEntries(hub.Options.GraphCacheDirectory).Order()] : [];

    private static (float[] Output, ListLogger Log) Run(SparseModelDefinition model, ModelBatch batch, OnnxBackendOptions options)
    {
        var logger = new ListLogger();
        using OnnxSparseModelBackend backend = OnnxSparseModelBackend.Create(model, options, logger);
        float[] output = new float[batch.BatchSize * model.Tokenizer.VocabularySize];
        backend.Run(batch, output, CancellationToken.None);
        return (output, logger);
    }

    private static NeuralSparseException LoadFails(GeneratedModel hub)
    {
        var error = Assert.Throws<NeuralSparseException>(() => OnnxSparseModelBackend.Create(hub.Load(), hub.Options));
        Assert.Equal(NeuralSparseErrorKind.ModelLoad, error.Kind);
        return error;
    }

    private static Dictionary<string, (long, DateTime)> Snapshot(string directory) =>
        Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .ToDictionary(f => f, f => (new FileInfo(f).Length, File.GetLastWriteTimeUtc(f)));
}
