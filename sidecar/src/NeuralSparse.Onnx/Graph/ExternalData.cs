using System.Globalization;
using Google.Protobuf;
using NeuralSparse.Onnx.Proto;

namespace NeuralSparse.Onnx.Graph;

/// <summary>Initializers stored beside a graph (ONNX external data) read into the graph, for rewrites that change weight values.</summary>
internal static class ExternalData
{
    /// <summary>Reads every external initializer of <paramref name="model"/>'s main graph from <paramref name="directory"/> into raw data.</summary>
    /// <exception cref="InvalidDataException">A location leaves the folder, or the file is shorter than the graph says.</exception>
    public static void LoadInto(ModelProto model, string directory)
    {
        foreach (TensorProto tensor in model.Graph.Initializer.Where(t => t.DataLocation == TensorProto.Types.DataLocation.External))
        {
            Dictionary<string, string> entries = tensor.ExternalData.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
            string location = entries.GetValueOrDefault("location") ?? string.Empty;
            if (location.Length == 0 || Path.GetFileName(location) != location)
            {
                throw new InvalidDataException($"Initializer '{tensor.Name}' has external data at '{location}', which is not a file beside the graph.");
            }

            long offset = entries.TryGetValue("offset", out string? o) ? long.Parse(o, CultureInfo.InvariantCulture) : 0;
            using FileStream stream = File.OpenRead(Path.Combine(directory, location));
            long length = entries.TryGetValue("length", out string? l) ? long.Parse(l, CultureInfo.InvariantCulture) : stream.Length - offset;
            byte[] bytes = new byte[length];
            stream.Position = offset;
            stream.ReadExactly(bytes);
            tensor.RawData = ByteString.CopyFrom(bytes);
            tensor.ExternalData.Clear();
            tensor.DataLocation = TensorProto.Types.DataLocation.Default;
        }
    }
}
