using NeuralSparse.Core.Models;
using NeuralSparse.Onnx.Synthetic;

namespace NeuralSparse.Bench;

/// <summary>The generated real-shape models the bench runs, cached under <see cref="BenchSettings.ModelCache"/>.</summary>
internal static class BenchModels
{
    public static (SparseModelPreset Preset, SparseModelDefinition Model) Load(BenchSettings settings, string name)
    {
        SparseModelPreset preset = SparseModelPreset.Find(name) ?? throw new ArgumentException($"Unknown model {name}.");
        string directory = Path.Combine(settings.ModelCache, "synthetic-" + preset.ShortName);
        if (!File.Exists(Path.Combine(directory, ModelDirectory.ManifestFileName)))
        {
            Console.Error.WriteLine($"Generating {preset.ShortName} at its real shape into {directory} ...");
            SyntheticModelDirectory.Create(directory, SyntheticModelSpec.FromPreset(preset), Path.Combine(settings.BertData, "tokenizer.json"),
                Path.Combine(settings.BertData, "idf.json"), preset.Mode, preset.Activation, preset: preset.ShortName);
        }

        return (preset, ModelDirectory.Load(directory));
    }
}
