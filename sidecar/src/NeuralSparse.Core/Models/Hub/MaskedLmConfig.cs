using System.Globalization;
using System.Text.Json;

namespace NeuralSparse.Core.Models.Hub;

/// <summary>
/// Rotary position embeddings (GTE): the base <c>rope_theta</c> and the fixed NTK scaling factor of
/// <c>rope_scaling: {"type": "ntk", "factor": f}</c> (1 when unscaled).
/// </summary>
internal sealed record RotaryConfig(double Theta, double NtkFactor);

/// <summary>
/// The transformer shape of a masked-LM, as its Hugging Face <c>config.json</c> states it, for the three
/// architectures the OpenSearch sparse models use. The graph builder and the weight generator take this.
/// </summary>
internal sealed record MaskedLmConfig(
    SparseModelArchitecture Architecture,
    int Layers,
    int HiddenSize,
    int Heads,
    int IntermediateSize,
    int VocabularySize,
    int MaxPositions,
    int TypeVocabularySize = 0,
    float LayerNormEpsilon = 1e-12f,
    RotaryConfig? Rotary = null,
    bool PackedQkv = true)
{
    /// <summary>The config.json file name.</summary>
    public const string FileName = "config.json";

    /// <summary>The masked-LM class names this service builds graphs for.</summary>
    public static IReadOnlyList<string> SupportedArchitectures { get; } = ["BertForMaskedLM", "DistilBertForMaskedLM", "NewForMaskedLM"];

    /// <summary>Dimensions per attention head.</summary>
    public int HeadSize => HiddenSize / Heads;

    /// <summary>Whether the graph takes <c>token_type_ids</c> (BERT only; GTE uses type 0 inside the graph).</summary>
    public bool TakesTokenTypeIds => Architecture == SparseModelArchitecture.Bert;

    /// <summary>
    /// The most positions the model can encode: the position table for BERT/DistilBERT; for GTE the rotary cache,
    /// which NTK scaling stretches to <c>max_position_embeddings × factor</c> as the reference implementation does.
    /// </summary>
    public int PositionCapacity => Rotary is { NtkFactor: > 1 } rotary
        ? (int)Math.Min(int.MaxValue, MaxPositions * rotary.NtkFactor)
        : MaxPositions;

    /// <summary>"12 × 768 BERT (12 heads, FFN 3072, vocabulary 30522)", for messages and logs.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Layers} × {HiddenSize} {Architecture} ({Heads} heads, FFN {IntermediateSize}, vocabulary {VocabularySize}, {MaxPositions} positions)");

    /// <summary>Throws when the shape is inconsistent.</summary>
    /// <exception cref="InvalidDataException">A dimension is not positive, or the heads do not divide the hidden size.</exception>
    public void Validate()
    {
        if (Layers < 1 || HiddenSize < 1 || Heads < 1 || IntermediateSize < 1 || VocabularySize < 1 || MaxPositions < 2 || TypeVocabularySize < 0)
        {
            throw new InvalidDataException($"Every dimension must be positive: {Describe()}.");
        }

        if (HiddenSize % Heads != 0)
        {
            throw new InvalidDataException($"The hidden size {HiddenSize} is not divisible by {Heads} attention heads.");
        }

        if (Rotary is not null && HeadSize % 2 != 0)
        {
            throw new InvalidDataException($"Rotary position embeddings need an even head size; {HiddenSize} / {Heads} = {HeadSize}.");
        }
    }

    /// <summary>Reads and checks a Hugging Face <c>config.json</c>.</summary>
    /// <exception cref="InvalidDataException">Unknown architecture, missing or unsupported setting; the message names it and the fix.</exception>
    public static MaskedLmConfig Read(string path)
    {
        using JsonDocument document = ParseJson(path);
        JsonElement root = document.RootElement;
        SparseModelArchitecture architecture = DetectArchitecture(path, root);
        var reader = new ConfigReader(path, root);

        MaskedLmConfig config = architecture switch
        {
            SparseModelArchitecture.Bert => ReadBert(reader),
            SparseModelArchitecture.DistilBert => ReadDistilBert(reader),
            _ => ReadGte(reader),
        };

        try
        {
            config.Validate();
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"'{path}': {ex.Message}", ex);
        }

        return config;
    }

    private static MaskedLmConfig ReadBert(ConfigReader c)
    {
        c.RequireGelu("hidden_act");
        c.RequireValue("position_embedding_type", "absolute", "BERT with relative position embeddings is not supported");
        return new MaskedLmConfig(
            SparseModelArchitecture.Bert,
            c.Int("num_hidden_layers"), c.Int("hidden_size"), c.Int("num_attention_heads"), c.Int("intermediate_size"),
            c.Int("vocab_size"), c.Int("max_position_embeddings"), c.Int("type_vocab_size", 2), c.Float("layer_norm_eps", 1e-12f));
    }

    private static MaskedLmConfig ReadDistilBert(ConfigReader c)
    {
        c.RequireGelu("activation");

        // DistilBERT's LayerNorms use a fixed epsilon of 1e-12 (modeling_distilbert.py); config.json does not state it.
        return new MaskedLmConfig(
            SparseModelArchitecture.DistilBert,
            c.Int("n_layers"), c.Int("dim"), c.Int("n_heads"), c.Int("hidden_dim"),
            c.Int("vocab_size"), c.Int("max_position_embeddings"));
    }

    private static MaskedLmConfig ReadGte(ConfigReader c)
    {
        c.RequireGelu("hidden_act");
        c.RequireValue("position_embedding_type", "rope", "only GTE with rotary position embeddings (\"rope\") is supported");
        c.RequireValue("layer_norm_type", "layer_norm", "only GTE with LayerNorm (\"layer_norm\") is supported");
        if (c.Bool("logn_attention_scale", false))
        {
            throw c.Unsupported("logn_attention_scale", "true", "log-n attention scaling is not supported");
        }

        double factor = 1;
        if (c.Root.TryGetProperty("rope_scaling", out JsonElement scaling) && scaling.ValueKind == JsonValueKind.Object)
        {
            string type = scaling.TryGetProperty("type", out JsonElement t) ? t.GetString() ?? string.Empty : string.Empty;
            if (type != "ntk" || (scaling.TryGetProperty("mixed_b", out JsonElement mixed) && mixed.ValueKind != JsonValueKind.Null))
            {
                throw c.Unsupported("rope_scaling", scaling.GetRawText(), "only fixed NTK scaling ({\"type\": \"ntk\", \"factor\": f}) is supported");
            }

            factor = scaling.TryGetProperty("factor", out JsonElement f) && f.TryGetDouble(out double value) && value > 0
                ? value
                : throw c.Unsupported("rope_scaling", scaling.GetRawText(), "the NTK factor must be a positive number");
        }

        return new MaskedLmConfig(
            SparseModelArchitecture.Gte,
            c.Int("num_hidden_layers"), c.Int("hidden_size"), c.Int("num_attention_heads"), c.Int("intermediate_size"),
            c.Int("vocab_size"), c.Int("max_position_embeddings"), c.Int("type_vocab_size", 0), c.Float("layer_norm_eps", 1e-12f),
            new RotaryConfig(c.Double("rope_theta", 10000), factor), c.Bool("pack_qkv", true));
    }

    private static JsonDocument ParseJson(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"'{path}' is not valid JSON: {ex.Message}", ex);
        }
    }

    private static SparseModelArchitecture DetectArchitecture(string path, JsonElement root)
    {
        string? modelType = root.TryGetProperty("model_type", out JsonElement type) ? type.GetString() : null;
        string[] declared = root.TryGetProperty("architectures", out JsonElement list) && list.ValueKind == JsonValueKind.Array
            ? [.. list.EnumerateArray().Select(e => e.GetString() ?? string.Empty)]
            : [];

        foreach (string name in declared)
        {
            switch (name)
            {
                case "BertForMaskedLM":
                    return SparseModelArchitecture.Bert;
                case "DistilBertForMaskedLM":
                    return SparseModelArchitecture.DistilBert;
                case "NewForMaskedLM":
                    return SparseModelArchitecture.Gte;
            }
        }

        // No architectures list: trust model_type, and the weights must then hold the masked-LM head.
        if (declared.Length == 0)
        {
            switch (modelType)
            {
                case "bert":
                    return SparseModelArchitecture.Bert;
                case "distilbert":
                    return SparseModelArchitecture.DistilBert;
                case "new":
                    return SparseModelArchitecture.Gte;
            }
        }

        string what = declared.Length > 0 ? $"architectures [{string.Join(", ", declared)}]" : $"model_type '{modelType ?? "(none)"}'";
        throw new InvalidDataException(
            $"'{path}' declares {what}, which this service cannot build. Supported: {string.Join(", ", SupportedArchitectures)} (GTE, model_type \"new\"): a sparse model needs its masked-LM head. For another architecture, export it to ONNX as model.onnx (a fill-mask export with a logits output) and put that in the folder instead.");
    }

    /// <summary>Typed reads of config.json keys with messages that name the file and key.</summary>
    private sealed class ConfigReader(string path, JsonElement root)
    {
        public JsonElement Root => root;

        public int Int(string key, int? fallback = null)
        {
            if (root.TryGetProperty(key, out JsonElement value) && value.ValueKind != JsonValueKind.Null)
            {
                return value.TryGetInt32(out int number) ? number : throw NotA(key, value, "an integer");
            }

            return fallback ?? throw new InvalidDataException($"'{path}' has no \"{key}\"; use the config.json that came with the weights.");
        }

        public double Double(string key, double fallback) =>
            root.TryGetProperty(key, out JsonElement value) && value.ValueKind != JsonValueKind.Null
                ? value.TryGetDouble(out double number) ? number : throw NotA(key, value, "a number")
                : fallback;

        public float Float(string key, float fallback) => (float)Double(key, fallback);

        public bool Bool(string key, bool fallback) =>
            root.TryGetProperty(key, out JsonElement value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? value.GetBoolean()
                : fallback;

        public void RequireValue(string key, string expected, string reason)
        {
            if (root.TryGetProperty(key, out JsonElement value) && value.ValueKind == JsonValueKind.String && value.GetString() != expected)
            {
                throw Unsupported(key, value.GetString()!, reason);
            }
        }

        /// <summary>All OpenSearch sparse models use exact (erf) GELU; another activation would silently change every weight.</summary>
        public void RequireGelu(string key)
        {
            if (root.TryGetProperty(key, out JsonElement value) && value.ValueKind == JsonValueKind.String && value.GetString() != "gelu")
            {
                throw Unsupported(key, value.GetString()!, "only \"gelu\" (exact, erf-based) is supported");
            }
        }

        private InvalidDataException NotA(string key, JsonElement value, string what) =>
            new($"'{path}': \"{key}\" is {value.GetRawText()}; it must be {what}. Use the config.json that came with the weights.");

        public InvalidDataException Unsupported(string key, string value, string reason) =>
            new($"'{path}' sets \"{key}\" to {value}: {reason}. Export this model to ONNX (model.onnx) instead.");
    }
}
