using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Models.Hub;
using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Core.Tests.Models.Hub;

/// <summary>
/// What <see cref="ModelDirectory.Load"/> reads from a Hugging Face model folder without touching the weights: the
/// architecture, mode, activation, preset and every bad-folder message. The graph built from the weights is tested
/// with the ONNX backend.
/// </summary>
public sealed class HubFolderLoadTests : IDisposable
{
    private const string BertConfig = """
        { "architectures": ["BertForMaskedLM"], "model_type": "bert", "hidden_size": 32, "num_hidden_layers": 2,
          "num_attention_heads": 4, "intermediate_size": 64, "vocab_size": 7, "max_position_embeddings": 128,
          "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu", "_name_or_path": "my/finetune" }
        """;

    private const string DistilBertConfig = """
        { "architectures": ["DistilBertForMaskedLM"], "model_type": "distilbert", "dim": 32, "n_layers": 2, "n_heads": 4,
          "hidden_dim": 64, "vocab_size": 7, "max_position_embeddings": 512, "activation": "gelu" }
        """;

    private const string GteConfig = """
        { "architectures": ["NewForMaskedLM"], "model_type": "new", "hidden_size": 32, "num_hidden_layers": 2,
          "num_attention_heads": 4, "intermediate_size": 64, "vocab_size": 13, "max_position_embeddings": 8192,
          "type_vocab_size": 0, "layer_norm_eps": 1e-12, "hidden_act": "gelu", "position_embedding_type": "rope",
          "rope_theta": 500000, "rope_scaling": { "type": "ntk", "factor": 2.0 }, "layer_norm_type": "layer_norm", "pack_qkv": true }
        """;

    private readonly string _root = Path.Combine(Path.GetTempPath(), "hub-folder-tests-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void Load_BiEncoderFolder_TakesArchitectureModeAndActivationFromTheFolder()
    {
        string folder = HubFolder("bi", BertConfig, splade: "relu");

        SparseModelDefinition model = ModelDirectory.Load(folder);

        Assert.NotNull(model.Hub);
        Assert.Equal(SparseModelArchitecture.Bert, model.Hub.Config.Architecture);
        Assert.Equal(Path.Combine(folder, "model.safetensors"), model.ModelPath);
        Assert.Equal(SparseModelMode.BiEncoder, model.Mode);
        Assert.Equal(SparseActivation.Log1pRelu, model.Activation);
        Assert.Null(model.Preset);
        Assert.Equal("bi", model.Name);
        Assert.Equal(128, model.MaxLength); // the default 512 capped by max_position_embeddings
    }

    [Fact]
    public void Load_FolderWithIdfAndDoubleLogPooling_IsDocOnlyWithTheV3Activation()
    {
        string folder = HubFolder("doc", DistilBertConfig, splade: "log1p_relu", idf: true);

        SparseModelDefinition model = ModelDirectory.Load(folder);

        Assert.Equal(SparseModelMode.DocOnly, model.Mode);
        Assert.Equal(SparseActivation.Log1pLog1pRelu, model.Activation);
        Assert.Equal(2.5f, model.Idf![5]);
        Assert.Equal(0f, model.ModelPruneRatio);
    }

    [Fact]
    public void Load_StaticEmbeddingQueryModuleWithoutIdfJson_IsDocOnlyWithItsWeights()
    {
        string folder = HubFolder("doc-static", DistilBertConfig, splade: "relu");
        string module = Directory.CreateDirectory(Path.Combine(folder, "query_0_SparseStaticEmbedding")).FullName;
        WriteSafetensors(Path.Combine(module, "model.safetensors"), "weight", [0f, 0f, 0f, 0f, 0f, 6.5f, 0f]);

        SparseModelDefinition model = ModelDirectory.Load(folder);

        Assert.Equal(SparseModelMode.DocOnly, model.Mode);
        Assert.Equal(6.5f, model.Idf![5]);
        Assert.Equal(0f, model.Idf[6]); // zero drops the token, as the module does
    }

    [Theory]
    [InlineData("opensearch-neural-sparse-encoding-doc-v3-distill")]
    [InlineData("doc-v3-distill")]
    [InlineData("models--opensearch-project--opensearch-neural-sparse-encoding-doc-v3-distill/snapshots/0123abcd")]
    public void Load_FolderNamedLikeARepository_AppliesThePresetOverTheFolderGuesses(string location)
    {
        // The folder says relu and has no idf.json; the doc-v3-distill preset says doc-only, double log, prune 0.1.
        string folder = HubFolder(location, DistilBertConfig, splade: "relu", idf: true);

        SparseModelDefinition model = ModelDirectory.Load(folder);

        Assert.Equal("doc-v3-distill", model.Preset!.ShortName);
        Assert.Equal("doc-v3-distill", model.Name);
        Assert.Equal(SparseActivation.Log1pLog1pRelu, model.Activation);
        Assert.Equal(0.1f, model.ModelPruneRatio);
    }

    [Fact]
    public void Load_NameOrPathInConfig_AppliesThePreset()
    {
        string folder = HubFolder("checkout", BertConfig.Replace("my/finetune", "opensearch-project/opensearch-neural-sparse-encoding-doc-v2-mini", StringComparison.Ordinal), splade: "relu", idf: true);

        Assert.Equal("doc-v2-mini", ModelDirectory.Load(folder).Preset!.ShortName);
    }

    [Fact]
    public void Load_ManifestOverridesPresetAndFolder()
    {
        string folder = HubFolder("opensearch-neural-sparse-encoding-doc-v3-distill", DistilBertConfig, splade: "relu", idf: true);
        File.WriteAllText(Path.Combine(folder, "neural-sparse.json"), """{ "activation": "log1p_relu", "modelPruneRatio": 0, "name": "mine" }""");

        SparseModelDefinition model = ModelDirectory.Load(folder);

        Assert.Equal(SparseActivation.Log1pRelu, model.Activation);
        Assert.Equal(0f, model.ModelPruneRatio);
        Assert.Equal("mine", model.Name);
    }

    [Fact]
    public void Load_PresetOfAnotherArchitecture_FailsNamingBoth()
    {
        // A BERT checkpoint in a folder named like the DistilBERT doc-v3-distill.
        string folder = HubFolder("doc-v3-distill", BertConfig, splade: "relu", idf: true);

        string message = LoadFails(folder).Message;

        Assert.Contains("folder name 'doc-v3-distill'", message, StringComparison.Ordinal);
        Assert.Contains("DistilBert", message, StringComparison.Ordinal);
        Assert.Contains("config.json", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_Gte_ReadsRotarySettingsAndAllowsLongInputsWhenAsked()
    {
        string folder = HubFolder("gte", GteConfig, splade: "log1p_relu", idf: true);
        File.WriteAllText(Path.Combine(folder, "neural-sparse.json"), """{ "maxLength": 16384 }""");

        SparseModelDefinition model = ModelDirectory.Load(folder);

        MaskedLmConfig config = model.Hub!.Config;
        Assert.Equal(SparseModelArchitecture.Gte, config.Architecture);
        Assert.Equal(new RotaryConfig(500000, 2), config.Rotary);
        Assert.Equal(16384, config.PositionCapacity); // NTK scaling stretches the rotary cache
        Assert.Equal(16384, model.MaxLength);
    }

    [Fact]
    public void Load_MaxLengthBeyondThePositions_FailsNamingBoth()
    {
        string folder = HubFolder("long", BertConfig, splade: "relu");
        File.WriteAllText(Path.Combine(folder, "neural-sparse.json"), """{ "maxLength": 1024 }""");

        string message = LoadFails(folder).Message;

        Assert.Contains("\"maxLength\" is 1024", message, StringComparison.Ordinal);
        Assert.Contains("allows 128 positions", message, StringComparison.Ordinal);
    }

    [Fact]
    public void WithMaxLength_TheServiceSetting_IsBoundByThePositions()
    {
        SparseModelDefinition model = ModelDirectory.Load(HubFolder("setting", BertConfig, splade: "relu"));

        Assert.Equal(100, model.WithMaxLength(100).MaxLength);
        Assert.NotNull(model.WithMaxLength(100).Hub);
        string message = Assert.Throws<NeuralSparseException>(() => model.WithMaxLength(129)).Message;
        Assert.Contains("at most the 128 positions", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_TokenizerJson_NormalizerSettingsApply()
    {
        // A cased model: tokenizer.json's BertNormalizer says lowercase false, so "Hello" is not "hello".
        string folder = HubFolder("cased", BertConfig.Replace("\"vocab_size\": 7", "\"vocab_size\": 8", StringComparison.Ordinal), splade: "relu");
        File.Delete(Path.Combine(folder, "vocab.txt"));
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), """
            { "normalizer": { "type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": false },
              "added_tokens": [ { "id": 0, "content": "[PAD]" }, { "id": 1, "content": "[UNK]" }, { "id": 2, "content": "[CLS]" }, { "id": 3, "content": "[SEP]" }, { "id": 4, "content": "[MASK]" } ],
              "model": { "type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                         "vocab": { "[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "hello": 5, "Hello": 6, "world": 7 } } }
            """);

        SparseModelDefinition model = ModelDirectory.Load(folder);

        Assert.EndsWith("tokenizer.json", model.TokenizerPath, StringComparison.Ordinal);
        Assert.Equal([2, 6, 7, 3], model.Tokenizer.Encode("Hello world", 16));
    }

    [Fact]
    public void Load_UnknownArchitecture_SaysWhichAreSupportedAndTheOnnxWayOut()
    {
        string folder = HubFolder("roberta", """{ "architectures": ["RobertaForMaskedLM"], "model_type": "roberta" }""", splade: "relu");

        string message = LoadFails(folder).Message;

        Assert.Contains(Path.Combine(folder, "config.json"), message, StringComparison.Ordinal);
        Assert.Contains("RobertaForMaskedLM", message, StringComparison.Ordinal);
        Assert.Contains("BertForMaskedLM, DistilBertForMaskedLM, NewForMaskedLM", message, StringComparison.Ordinal);
        Assert.Contains("model.onnx", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BareEncoderWithoutMaskedLmHead_IsRefused()
    {
        string folder = HubFolder("bare", BertConfig.Replace("BertForMaskedLM", "BertModel", StringComparison.Ordinal), splade: "relu");

        Assert.Contains("masked-LM head", LoadFails(folder).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"silu\"", "\"hidden_act\" to silu")]
    [InlineData("\"num_attention_heads\": 4", "\"num_attention_heads\": 5", "not divisible by 5 attention heads")]
    [InlineData("\"hidden_size\": 32,", "", "has no \"hidden_size\"")]
    public void Load_UnusableConfig_NamesTheKey(string from, string to, string expected)
    {
        string folder = HubFolder("odd", BertConfig.Replace(from, to, StringComparison.Ordinal), splade: "relu");

        string message = LoadFails(folder).Message;

        Assert.Contains(Path.Combine(folder, "config.json"), message, StringComparison.Ordinal);
        Assert.Contains(expected, message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"rope_scaling\": { \"type\": \"ntk\", \"factor\": 2.0 }", "\"rope_scaling\": { \"type\": \"dynamic\", \"factor\": 2.0 }", "only fixed NTK scaling")]
    [InlineData("\"position_embedding_type\": \"rope\"", "\"position_embedding_type\": \"absolute\"", "rotary position embeddings")]
    [InlineData("\"layer_norm_type\": \"layer_norm\"", "\"layer_norm_type\": \"rms_norm\"", "LayerNorm")]
    public void Load_UnsupportedGteVariant_IsRefusedNamingTheSetting(string from, string to, string expected)
    {
        string folder = HubFolder("gte-variant", GteConfig.Replace(from, to, StringComparison.Ordinal), splade: "relu");

        Assert.Contains(expected, LoadFails(folder).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ConfigVocabularySmallerThanTokenizer_FailsNamingBothFiles()
    {
        string folder = HubFolder("narrow", BertConfig.Replace("\"vocab_size\": 7", "\"vocab_size\": 5", StringComparison.Ordinal), splade: "relu");

        string message = LoadFails(folder).Message;

        Assert.Contains("vocab_size 5", message, StringComparison.Ordinal);
        Assert.Contains("vocab.txt", message, StringComparison.Ordinal);
        Assert.Contains("has 7 tokens", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_PickleOnlyFolder_IsRefusedWithTheWayToSafetensors()
    {
        string folder = HubFolder("pickled", BertConfig, splade: "relu");
        File.Move(Path.Combine(folder, "model.safetensors"), Path.Combine(folder, "pytorch_model.bin"));

        string message = LoadFails(folder).Message;

        Assert.Contains("pytorch_model.bin", message, StringComparison.Ordinal);
        Assert.Contains("no model.safetensors", message, StringComparison.Ordinal);
        Assert.Contains("safetensors/convert", message, StringComparison.Ordinal);
        Assert.Contains("safe_serialization=True", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ConfigWithoutWeights_AsksForTheSafetensorsFile()
    {
        string folder = HubFolder("config-only", BertConfig, splade: "relu");
        File.Delete(Path.Combine(folder, "model.safetensors"));

        Assert.Contains("has config.json but no model.safetensors", LoadFails(folder).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_WeightsWithoutConfig_AsksForConfigJson()
    {
        string folder = HubFolder("weights-only", BertConfig, splade: "relu");
        File.Delete(Path.Combine(folder, "config.json"));

        Assert.Contains("no config.json", LoadFails(folder).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ShardIndexNamingAMissingShard_NamesIt()
    {
        string folder = HubFolder("sharded", BertConfig, splade: "relu");
        File.Delete(Path.Combine(folder, "model.safetensors"));
        File.WriteAllText(Path.Combine(folder, "model.safetensors.index.json"),
            """{ "weight_map": { "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors" } }""");
        File.WriteAllBytes(Path.Combine(folder, "model-00001-of-00002.safetensors"), []);

        string message = LoadFails(folder).Message;

        Assert.Contains("model-00002-of-00002.safetensors", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_SumPooling_IsRefused()
    {
        string folder = HubFolder("sum", BertConfig, splade: "relu");
        File.WriteAllText(Path.Combine(folder, "1_SpladePooling", "config.json"), """{ "pooling_strategy": "sum", "activation_function": "relu" }""");

        Assert.Contains("\"pooling_strategy\" to \"sum\"", LoadFails(folder).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_EmptyFolder_DescribesBothAcceptedLayouts()
    {
        string folder = Directory.CreateDirectory(Path.Combine(_root, "empty")).FullName;

        string message = LoadFails(folder).Message;

        Assert.Contains("config.json + model.safetensors", message, StringComparison.Ordinal);
        Assert.Contains("model.onnx", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("v1", "bi-encoder")]
    [InlineData("v2-distill", "bi-encoder")]
    [InlineData("doc-v1", "doc-only")]
    [InlineData("doc-v2-distill", "doc-only")]
    [InlineData("doc-v2-mini", "doc-only")]
    [InlineData("doc-v3-distill", "doc-only")]
    [InlineData("doc-v3-gte", "doc-only")]
    public void Presets_ResolveFromEveryFormOfTheHubName(string shortName, string mode)
    {
        string hubName = "opensearch-project/opensearch-neural-sparse-encoding-" + shortName;

        foreach (string name in new[] { hubName, hubName.ToUpperInvariant(), "opensearch-neural-sparse-encoding-" + shortName, shortName })
        {
            SparseModelPreset preset = SparseModelPreset.Find(name) ?? throw new InvalidOperationException($"'{name}' did not resolve.");
            Assert.Equal(hubName, preset.HubName);
            Assert.Equal(mode, ModelWireNames.Of(preset.Mode));
        }

        Assert.Equal(7, SparseModelPreset.All.Count);
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private static NeuralSparseException LoadFails(string directory)
    {
        var error = Assert.Throws<NeuralSparseException>(() => ModelDirectory.Load(directory));
        Assert.Equal(NeuralSparseErrorKind.ModelLoad, error.Kind);
        return error;
    }

    /// <summary>A hub-shaped folder; the weights file is empty (Load does not read tensors).</summary>
    private string HubFolder(string name, string config, string splade, bool idf = false)
    {
        string folder = Directory.CreateDirectory(Path.Combine(_root, name)).FullName;
        File.WriteAllText(Path.Combine(folder, "config.json"), config);
        File.WriteAllBytes(Path.Combine(folder, "model.safetensors"), []);
        File.WriteAllLines(Path.Combine(folder, "vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world"]);
        if (idf)
        {
            File.WriteAllText(Path.Combine(folder, "idf.json"), """{ "hello": 2.5 }""");
        }

        string pooling = Directory.CreateDirectory(Path.Combine(folder, idf ? "document_1_SpladePooling" : "1_SpladePooling")).FullName;
        File.WriteAllText(Path.Combine(pooling, "config.json"), $$"""{ "pooling_strategy": "max", "activation_function": "{{splade}}" }""");
        return folder;
    }

    private static void WriteSafetensors(string path, string name, float[] values)
    {
        string header = $$$"""{"{{{name}}}":{"dtype":"F32","shape":[{{{values.Length}}}],"data_offsets":[0,{{{values.Length * 4}}}]}}""";
        byte[] json = System.Text.Encoding.UTF8.GetBytes(header);
        using FileStream stream = File.Create(path);
        stream.Write(BitConverter.GetBytes((ulong)json.Length));
        stream.Write(json);
        foreach (float value in values)
        {
            stream.Write(BitConverter.GetBytes(value));
        }
    }
}
