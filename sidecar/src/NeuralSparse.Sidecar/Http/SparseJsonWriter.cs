using System.Globalization;
using System.Text.Json;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Core.Tokenization;

namespace NeuralSparse.Sidecar.Http;

/// <summary>Writes sparse vectors as the flat <c>{token: weight}</c> maps neural-search reads.</summary>
internal static class SparseJsonWriter
{
    public static void Write(
        Utf8JsonWriter writer, IReadOnlyList<SparseVector> vectors, WordPieceTokenizer tokenizer, SparseKeyFormat format, bool envelope)
    {
        if (envelope)
        {
            writer.WriteStartObject();
            writer.WritePropertyName("response");
        }

        writer.WriteStartArray();
        Span<char> idBuffer = stackalloc char[11];
        foreach (SparseVector vector in vectors)
        {
            writer.WriteStartObject();
            for (int i = 0; i < vector.Count; i++)
            {
                float weight = vector.Weights[i];
                if (format == SparseKeyFormat.TokenId)
                {
                    vector.TokenIds[i].TryFormat(idBuffer, out int written, provider: CultureInfo.InvariantCulture);
                    writer.WriteNumber(idBuffer[..written], weight);
                }
                else
                {
                    writer.WriteNumber(tokenizer.IdToToken(vector.TokenIds[i]), weight);
                }
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        if (envelope)
        {
            writer.WriteEndObject();
        }
    }
}
