using NeuralSparse.Core.Models;
using NeuralSparse.Core.Models.Hub;
using NeuralSparse.Onnx.Synthetic;

namespace NeuralSparse.Bench;

/// <summary>The generated real-shape models the bench runs, cached under <see cref="BenchSettings.ModelCache"/>.</summary>
internal static class BenchModels
{
    public static (SparseModelPreset Preset, SparseModelDefinition Model) Load(BenchSettings settings, string name)
    {
        SparseModelPreset preset = SparseModelPreset.Find(name) ?? throw new ArgumentException($"Unknown model {name}.");
        SyntheticModelSpec spec = SyntheticModelSpec.FromPreset(preset);
        string tokenizerPath = Path.Combine(settings.BertData, "tokenizer.json");
        string? idfPath = preset.Mode == SparseModelMode.DocOnly ? Path.Combine(settings.BertData, "idf.json") : null;
        string directory;
        if (settings.Format == "hub")
        {
            // Named like the repository, as a git clone is: the preset applies by the folder's name.
            directory = Path.Combine(settings.ModelCache, "hub", preset.RepositoryName);
            if (!File.Exists(Path.Combine(directory, MaskedLmConfig.FileName)))
            {
                Console.Error.WriteLine($"Generating {preset.ShortName} at its real shape as a Hugging Face folder into {directory} ...");
                SyntheticHubFolder.Create(directory, SyntheticWeights.Generate(spec), tokenizerPath, idfPath, preset.Activation);
            }
        }
        else
        {
            directory = Path.Combine(settings.ModelCache, "synthetic-" + preset.ShortName);
            if (!File.Exists(Path.Combine(directory, ModelDirectory.ManifestFileName)))
            {
                Console.Error.WriteLine($"Generating {preset.ShortName} at its real shape into {directory} ...");
                SyntheticModelDirectory.Create(directory, spec, tokenizerPath, Path.Combine(settings.BertData, "idf.json"), preset.Mode, preset.Activation, preset: preset.ShortName);
            }
        }

        // Long sequences (GTE up to 8,192 tokens) need the model's limit raised, as --max-length does in the service.
        SparseModelDefinition model = ModelDirectory.Load(directory);
        int longest = Math.Min(settings.Sequences.Max(), spec.ToConfig().PositionCapacity);
        return (preset, longest > model.MaxLength ? model.WithMaxLength(longest) : model);
    }
}
