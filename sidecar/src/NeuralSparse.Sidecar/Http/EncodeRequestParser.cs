using System.Globalization;
using System.Text.Json;
using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Inference;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Sidecar.Configuration;

namespace NeuralSparse.Sidecar.Http;

/// <summary>A parsed encode request; <paramref name="ContentType"/> is the asymmetric model's <c>content_type</c>, if sent.</summary>
internal sealed record EncodeHttpRequest(IReadOnlyList<string> Texts, SparseKeyFormat Format, SparsePruneRule Prune, EncodeKind? ContentType = null);

/// <summary>
/// Reads the two bodies ml-commons sends: a bare JSON array of strings (<c>request_body: "${parameters.input}"</c>)
/// and an object <c>{"texts": [...], "sparse_embedding_format": "WORD"|"TOKEN_ID", "prune_type", "prune_ratio"}</c>
/// (format compared case-insensitively, as the official handler does), and the asymmetric form
/// <c>{"texts": [...], "content_type": "query"|"passage"}</c> that neural-search 3.5+ sends for a remote model with
/// <c>additional_config.is_asymmetric</c> (<c>NeuralSearchMLInputBuilder.createAsymmetricRemoteInput</c>). Every problem
/// names the failing field or index.
/// </summary>
internal static class EncodeRequestParser
{
    public static EncodeHttpRequest Parse(JsonElement root, LimitsOptions limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        return root.ValueKind switch
        {
            JsonValueKind.Array => Validated(ReadTexts(root, "texts"), SparseKeyFormat.Word, SparsePruneRule.None, limits),
            JsonValueKind.Object => ParseObject(root, limits),
            _ => throw Invalid($"The body must be a JSON array of strings, or an object with a \"texts\" array; got {Kind(root)}."),
        };
    }

    /// <summary>Reads an array of strings (or a single string) as texts.</summary>
    public static List<string> ReadTexts(JsonElement element, string field)
    {
        if (element.ValueKind == JsonValueKind.String)
        {
            return [ReadString(element, field)];
        }

        if (element.ValueKind != JsonValueKind.Array)
        {
            throw Invalid($"\"{field}\" must be an array of strings; got {Kind(element)}.");
        }

        var texts = new List<string>(element.GetArrayLength());
        int index = 0;
        foreach (JsonElement item in element.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                throw Invalid($"{field}[{index}] must be a string; got {Kind(item)}.");
            }

            texts.Add(ReadString(item, $"{field}[{index}]"));
            index++;
        }

        return texts;
    }

    /// <summary>
    /// Reads a JSON string. Text that is not valid Unicode, an unpaired surrogate escape (<c>"\ud800"</c>, as Python's
    /// <c>json.dumps</c> writes for undecodable bytes) or bytes that are not UTF-8, is refused naming the field, as
    /// gRPC refuses a string that is not UTF-8 (Google.Protobuf rejects it when parsing): one rule for both protocols.
    /// </summary>
    private static string ReadString(JsonElement element, string field)
    {
        try
        {
            return element.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // The reader checks an escape's syntax, not the text it makes: GetString finds the unpaired surrogate.
            throw Invalid($"{field} is not valid UTF-8 text: it has bytes that are not UTF-8 or an unpaired surrogate escape (such as \\ud800). "
                + "In Python, drop or replace undecodable characters (errors='replace') before json.dumps.");
        }
    }

    private static EncodeHttpRequest ParseObject(JsonElement root, LimitsOptions limits)
    {
        if (!root.TryGetProperty("texts", out JsonElement textsElement))
        {
            throw Invalid("The object body needs a \"texts\" array of strings.");
        }

        SparseKeyFormat format = SparseKeyFormat.Word;
        if (root.TryGetProperty("sparse_embedding_format", out JsonElement formatElement) && formatElement.ValueKind != JsonValueKind.Null)
        {
            string? value = formatElement.ValueKind == JsonValueKind.String ? ReadString(formatElement, "\"sparse_embedding_format\"") : null;
            format = value?.ToUpperInvariant() switch
            {
                "WORD" => SparseKeyFormat.Word,
                "TOKEN_ID" => SparseKeyFormat.TokenId,
                _ => throw Invalid($"\"sparse_embedding_format\" must be \"WORD\" or \"TOKEN_ID\"; got {(value is null ? Kind(formatElement) : $"'{value}'")}."),
            };
        }

        string? pruneType = null;
        if (root.TryGetProperty("prune_type", out JsonElement typeElement) && typeElement.ValueKind != JsonValueKind.Null)
        {
            pruneType = typeElement.ValueKind == JsonValueKind.String
                ? ReadString(typeElement, "\"prune_type\"")
                : throw Invalid($"\"prune_type\" must be a string; got {Kind(typeElement)}.");
        }

        double? pruneRatio = null;
        if (root.TryGetProperty("prune_ratio", out JsonElement ratioElement) && ratioElement.ValueKind != JsonValueKind.Null)
        {
            pruneRatio = ratioElement.ValueKind == JsonValueKind.Number && ratioElement.TryGetDouble(out double ratio) && double.IsFinite(ratio)
                ? ratio
                : throw Invalid($"\"prune_ratio\" must be a finite number; got {Kind(ratioElement)}.");
        }

        return Validated(ReadTexts(textsElement, "texts"), format, SparsePruneRule.Parse(pruneType, pruneRatio), limits) with
        {
            ContentType = ReadContentType(root),
        };
    }

    /// <summary>neural-search writes <c>EmbeddingContentType</c> lower-cased: <c>query</c> or <c>passage</c>.</summary>
    private static EncodeKind? ReadContentType(JsonElement root)
    {
        if (!root.TryGetProperty("content_type", out JsonElement element) || element.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        string? value = element.ValueKind == JsonValueKind.String ? element.GetString() : null;
        return value?.ToLowerInvariant() switch
        {
            "query" => EncodeKind.Query,
            "passage" => EncodeKind.Document,
            _ => throw Invalid($"\"content_type\" must be \"query\" or \"passage\"; got {(value is null ? Kind(element) : $"'{value}'")}."),
        };
    }

    private static EncodeHttpRequest Validated(List<string> texts, SparseKeyFormat format, SparsePruneRule prune, LimitsOptions limits)
    {
        CheckLimits(texts, limits);
        return new EncodeHttpRequest(texts, format, prune);
    }

    /// <summary>Refuses empty, too many or too long texts, naming the index.</summary>
    public static void CheckLimits(IReadOnlyList<string> texts, LimitsOptions limits)
    {
        if (texts.Count == 0)
        {
            throw Invalid("\"texts\" is empty; send at least one text.");
        }

        if (texts.Count > limits.MaxTextsPerRequest)
        {
            throw Invalid(string.Create(CultureInfo.InvariantCulture,
                $"{texts.Count} texts were sent; at most {limits.MaxTextsPerRequest} are accepted per request. Split the batch (ml-commons: set input_docs_processed_step_size)."));
        }

        for (int i = 0; i < texts.Count; i++)
        {
            if (texts[i].Length > limits.MaxCharactersPerText)
            {
                throw Invalid(string.Create(CultureInfo.InvariantCulture,
                    $"texts[{i}] has {texts[i].Length} characters; the limit is {limits.MaxCharactersPerText}. (Texts within the limit are truncated to the model's maximum tokens.)"));
            }
        }
    }

    private static NeuralSparseException Invalid(string message) => new(NeuralSparseErrorKind.Validation, message);

    private static string Kind(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };
}
