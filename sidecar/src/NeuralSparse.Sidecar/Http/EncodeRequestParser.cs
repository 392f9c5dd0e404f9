using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Sidecar.Configuration;

namespace NeuralSparse.Sidecar.Http;

/// <summary>A parsed encode request.</summary>
internal sealed record EncodeHttpRequest(IReadOnlyList<string> Texts, SparseKeyFormat Format, SparsePruneRule Prune);

/// <summary>
/// Reads the two bodies ml-commons sends: a bare JSON array of strings (<c>request_body: "${parameters.input}"</c>)
/// and an object <c>{"texts": [...], "sparse_embedding_format": "WORD"|"TOKEN_ID", "prune_type", "prune_ratio"}</c>
/// (format compared case-insensitively, as the official handler does). Every problem names the failing field or index.
/// </summary>
internal static class EncodeRequestParser
{
    private const char ReplacementCharacter = '\uFFFD';

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
            return [ReadString(element)];
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

            texts.Add(ReadString(item));
            index++;
        }

        return texts;
    }

    /// <summary>
    /// Reads a JSON string, repairing text that is not valid Unicode: each unpaired surrogate escape (<c>"\ud800"</c>,
    /// as Python's <c>json.dumps</c> writes for undecodable bytes) and each invalid UTF-8 sequence becomes U+FFFD, as
    /// protobuf's decoder does for gRPC strings; the tokenizer then drops U+FFFD as Hugging Face's does. One rule for
    /// both protocols, and one bad character does not fail a whole ingest batch (docs/sidecar.md).
    /// </summary>
    private static string ReadString(JsonElement element)
    {
        try
        {
            return element.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // Rare path: the reader validated the escapes' syntax, not the text they make.
            return DecodeLossy(JsonMarshal.GetRawUtf8Value(element)[1..^1]);
        }
    }

    private static string DecodeLossy(ReadOnlySpan<byte> raw)
    {
        var text = new StringBuilder(raw.Length);
        char? pendingHigh = null;
        while (!raw.IsEmpty)
        {
            int backslash = raw.IndexOf((byte)'\\');
            ReadOnlySpan<byte> run = backslash < 0 ? raw : raw[..backslash];
            if (!run.IsEmpty)
            {
                FlushUnpaired(text, ref pendingHigh);
                text.Append(Encoding.UTF8.GetString(run)); // invalid bytes become U+FFFD; 0x5C never sits inside a sequence
            }

            if (backslash < 0)
            {
                break;
            }

            byte escape = raw[backslash + 1];
            if (escape != (byte)'u')
            {
                FlushUnpaired(text, ref pendingHigh);
                text.Append(Unescape(escape));
                raw = raw[(backslash + 2)..];
                continue;
            }

            char unit = (char)int.Parse(raw.Slice(backslash + 2, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
            raw = raw[(backslash + 6)..];
            if (char.IsLowSurrogate(unit) && pendingHigh is { } high)
            {
                text.Append(high).Append(unit);
                pendingHigh = null;
                continue;
            }

            FlushUnpaired(text, ref pendingHigh);
            if (char.IsHighSurrogate(unit))
            {
                pendingHigh = unit;
            }
            else
            {
                text.Append(char.IsLowSurrogate(unit) ? ReplacementCharacter : unit);
            }
        }

        FlushUnpaired(text, ref pendingHigh);
        return text.ToString();
    }

    /// <summary>The character of a one-letter escape; the reader already refused any but <c>"\/bfnrtu</c>.</summary>
    private static char Unescape(byte escape) => escape switch
    {
        (byte)'b' => '\b',
        (byte)'f' => '\f',
        (byte)'n' => '\n',
        (byte)'r' => '\r',
        (byte)'t' => '\t',
        _ => (char)escape, // '"', '\\', '/'
    };

    private static void FlushUnpaired(StringBuilder text, ref char? pendingHigh)
    {
        if (pendingHigh is not null)
        {
            text.Append(ReplacementCharacter);
            pendingHigh = null;
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
            string? value = formatElement.ValueKind == JsonValueKind.String ? ReadString(formatElement) : null;
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
                ? ReadString(typeElement)
                : throw Invalid($"\"prune_type\" must be a string; got {Kind(typeElement)}.");
        }

        double? pruneRatio = null;
        if (root.TryGetProperty("prune_ratio", out JsonElement ratioElement) && ratioElement.ValueKind != JsonValueKind.Null)
        {
            pruneRatio = ratioElement.ValueKind == JsonValueKind.Number && ratioElement.TryGetDouble(out double ratio) && double.IsFinite(ratio)
                ? ratio
                : throw Invalid($"\"prune_ratio\" must be a finite number; got {Kind(ratioElement)}.");
        }

        return Validated(ReadTexts(textsElement, "texts"), format, SparsePruneRule.Parse(pruneType, pruneRatio), limits);
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
