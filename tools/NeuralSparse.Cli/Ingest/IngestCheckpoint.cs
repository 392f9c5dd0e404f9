using System.Text.Json;
using System.Text.Json.Serialization;

namespace NeuralSparse.Cli.Ingest;

/// <summary>
/// Where an ingest run stands: every input line before <see cref="Offset"/> is done (indexed, or written to the
/// failures file, which is <see cref="FailuresLength"/> bytes long at that point). Saved after each chunk, by writing a
/// new file and renaming it over the old one, so a crash leaves the previous checkpoint or the next, never half of one.
/// </summary>
internal sealed record IngestCheckpoint(
    string Input, long InputLength, string Index, long Offset, long Lines, long Indexed, long AlreadyPresent, long Failed, long Retried, long FailuresLength)
{
    public bool Complete => Offset >= InputLength;

    public static IngestCheckpoint? Load(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), CheckpointJson.Default.IngestCheckpoint);
        }
        catch (JsonException ex)
        {
            throw new CliException($"{path} is not an ingest checkpoint ({ex.Message}); pass --restart to start over.", ex);
        }
    }

    public void Save(string path)
    {
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, CheckpointJson.Default.IngestCheckpoint));
        File.Move(temporary, path, overwrite: true);
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(IngestCheckpoint))]
internal sealed partial class CheckpointJson : JsonSerializerContext;
