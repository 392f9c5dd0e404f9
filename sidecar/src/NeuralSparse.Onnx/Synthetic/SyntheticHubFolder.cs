using System.Text.Json;
using System.Text.Json.Nodes;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Models.Hub;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Core.Tokenization;

namespace NeuralSparse.Onnx.Synthetic;

/// <summary>How <see cref="SyntheticHubFolder"/> lays a folder out.</summary>
internal sealed record SyntheticHubFolderOptions
{
    /// <summary>Element type of model.safetensors: F32 (default), F16 or BF16.</summary>
    public string DataType { get; init; } = "F32";

    /// <summary>Doc-only query weights as a sentence-transformers static-embedding module instead of idf.json.</summary>
    public bool StaticQueryModule { get; init; }

    /// <summary>Write sentence-transformers' modules.json and SpladePooling config (default true).</summary>
    public bool SentenceTransformersModules { get; init; } = true;
}

/// <summary>
/// Writes generated weights as a Hugging Face model folder shaped like the OpenSearch repositories: config.json,
/// model.safetensors under Hugging Face's parameter names, the tokenizer, idf.json (doc-only) and
/// sentence-transformers' module configs. No manifest: the folder is served as it is.
/// </summary>
internal static class SyntheticHubFolder
{
    public static string Create(
        string directory,
        SyntheticWeights weights,
        string tokenizerPath,
        string? idfPath,
        SparseActivation activation,
        SyntheticHubFolderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        options ??= new SyntheticHubFolderOptions();
        Directory.CreateDirectory(directory);
        var indented = new JsonSerializerOptions { WriteIndented = true };

        File.WriteAllText(Path.Combine(directory, MaskedLmConfig.FileName), ConfigJson(weights.Config).ToJsonString(indented));
        SafetensorsWriter.Write(Path.Combine(directory, SafetensorsCheckpoint.SingleFileName), weights, options.DataType);
        File.Copy(tokenizerPath, Path.Combine(directory, Path.GetFileName(tokenizerPath)), overwrite: true);

        bool docOnly = idfPath is not null;
        if (docOnly && options.StaticQueryModule)
        {
            WordPieceTokenizer tokenizer = WordPieceTokenizer.Load(tokenizerPath);
            IdfTable idf = IdfTable.Load(idfPath!, tokenizer);
            float[] byId = [.. Enumerable.Range(0, tokenizer.VocabularySize).Select(id => idf[id])];
            string module = Directory.CreateDirectory(Path.Combine(directory, "query_0_SparseStaticEmbedding")).FullName;
            File.WriteAllText(Path.Combine(module, "config.json"), """{"frozen": false}""");
            SafetensorsWriter.Write(Path.Combine(module, SafetensorsCheckpoint.SingleFileName), [("weight", [byId.Length], byId)]);
        }
        else if (docOnly)
        {
            File.Copy(idfPath!, Path.Combine(directory, "idf.json"), overwrite: true);
        }

        if (options.SentenceTransformersModules)
        {
            // Doc-only repositories are a sentence-transformers Router (query_* and document_* modules); bi-encoders a plain list.
            string pooling = docOnly ? "document_1_SpladePooling" : "1_SpladePooling";
            string poolingDirectory = Directory.CreateDirectory(Path.Combine(directory, pooling)).FullName;
            var poolingConfig = new JsonObject
            {
                ["pooling_strategy"] = "max",
                ["activation_function"] = activation == SparseActivation.Log1pLog1pRelu ? "log1p_relu" : "relu",
                ["word_embedding_dimension"] = weights.Config.VocabularySize,
                ["chunk_size"] = null,
            };
            File.WriteAllText(Path.Combine(poolingDirectory, "config.json"), poolingConfig.ToJsonString(indented));
            JsonArray modules = docOnly
                ? [new JsonObject { ["idx"] = 0, ["name"] = "0", ["path"] = "", ["type"] = "sentence_transformers.models.Router" }]
                :
                [
                    new JsonObject { ["idx"] = 0, ["name"] = "0", ["path"] = "", ["type"] = "sentence_transformers.sparse_encoder.models.MLMTransformer" },
                    new JsonObject { ["idx"] = 1, ["name"] = "1", ["path"] = pooling, ["type"] = "sentence_transformers.sparse_encoder.models.SpladePooling" },
                ];
            File.WriteAllText(Path.Combine(directory, "modules.json"), modules.ToJsonString(indented));
        }

        return directory;
    }

    /// <summary>config.json as Hugging Face writes it for each architecture.</summary>
    public static JsonObject ConfigJson(MaskedLmConfig config) => config.Architecture switch
    {
        SparseModelArchitecture.Bert => new JsonObject
        {
            ["architectures"] = new JsonArray("BertForMaskedLM"),
            ["model_type"] = "bert",
            ["hidden_size"] = config.HiddenSize,
            ["num_hidden_layers"] = config.Layers,
            ["num_attention_heads"] = config.Heads,
            ["intermediate_size"] = config.IntermediateSize,
            ["vocab_size"] = config.VocabularySize,
            ["max_position_embeddings"] = config.MaxPositions,
            ["type_vocab_size"] = config.TypeVocabularySize,
            ["layer_norm_eps"] = config.LayerNormEpsilon,
            ["hidden_act"] = "gelu",
            ["position_embedding_type"] = "absolute",
            ["pad_token_id"] = 0,
        },
        SparseModelArchitecture.DistilBert => new JsonObject
        {
            ["architectures"] = new JsonArray("DistilBertForMaskedLM"),
            ["model_type"] = "distilbert",
            ["dim"] = config.HiddenSize,
            ["n_layers"] = config.Layers,
            ["n_heads"] = config.Heads,
            ["hidden_dim"] = config.IntermediateSize,
            ["vocab_size"] = config.VocabularySize,
            ["max_position_embeddings"] = config.MaxPositions,
            ["activation"] = "gelu",
            ["sinusoidal_pos_embds"] = false,
            ["pad_token_id"] = 0,
        },
        _ => new JsonObject
        {
            ["architectures"] = new JsonArray("NewForMaskedLM"),
            ["model_type"] = "new",
            ["hidden_size"] = config.HiddenSize,
            ["num_hidden_layers"] = config.Layers,
            ["num_attention_heads"] = config.Heads,
            ["intermediate_size"] = config.IntermediateSize,
            ["vocab_size"] = config.VocabularySize,
            ["max_position_embeddings"] = config.MaxPositions,
            ["type_vocab_size"] = config.TypeVocabularySize,
            ["layer_norm_eps"] = config.LayerNormEpsilon,
            ["layer_norm_type"] = "layer_norm",
            ["hidden_act"] = "gelu",
            ["position_embedding_type"] = "rope",
            ["rope_theta"] = config.Rotary!.Theta,
            ["rope_scaling"] = config.Rotary.NtkFactor > 1 ? new JsonObject { ["type"] = "ntk", ["factor"] = config.Rotary.NtkFactor } : null,
            ["pack_qkv"] = config.PackedQkv,
            ["logn_attention_scale"] = false,
            ["logn_attention_clip1"] = false,
            ["pad_token_id"] = 0,
        },
    };
}
