using System.Text.Encodings.Web;
using System.Text.Json;

namespace NeuralSparse.Cli.Hosting;

/// <summary>How machine-readable output is written: one compact JSON object per line, non-ASCII kept as is.</summary>
internal static class CliJson
{
    public static JsonSerializerOptions Line { get; } = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
