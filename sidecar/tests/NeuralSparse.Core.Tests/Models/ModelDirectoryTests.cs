using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Models;
using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Core.Tests.Models;

public sealed class ModelDirectoryTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "model-dir-tests-" + Guid.NewGuid().ToString("N"));

    public ModelDirectoryTests()
    {
        Directory.CreateDirectory(_directory);
        File.WriteAllBytes(Path.Combine(_directory, "model.onnx"), [1, 2, 3]); // parsed by the backend, not here
        File.WriteAllLines(Path.Combine(_directory, "vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world"]);
    }

    [Fact]
    public void Load_MissingDirectory_SaysWhatToPutThere()
    {
        string missing = Path.Combine(_directory, "absent");

        NeuralSparseException error = LoadFails(missing);

        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
        Assert.Contains("model.onnx", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_NoModelFile_PointsAtTheHubFolder()
    {
        File.Delete(Path.Combine(_directory, "model.onnx"));
        WriteManifest("""{ "mode": "bi-encoder" }""");

        NeuralSparseException error = LoadFails(_directory);

        Assert.Contains("has neither model.onnx nor a Hugging Face model (config.json + model.safetensors)", error.Message, StringComparison.Ordinal);
        Assert.Contains("git clone", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_NoTokenizer_NamesBothAcceptedFiles()
    {
        File.Delete(Path.Combine(_directory, "vocab.txt"));

        NeuralSparseException error = LoadFails(_directory);

        Assert.Contains("neither tokenizer.json nor vocab.txt", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_DocOnlyWithoutIdf_ExplainsBothFixes()
    {
        WriteManifest("""{ "mode": "doc-only" }""");

        NeuralSparseException error = LoadFails(_directory);

        Assert.Contains("idf.json", error.Message, StringComparison.Ordinal);
        Assert.Contains("\"mode\": \"bi-encoder\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ManifestTypo_IsAnErrorNamingTheFile()
    {
        WriteManifest("""{ "mode": "bi-encoder", "maxLenght": 256 }""");

        NeuralSparseException error = LoadFails(_directory);

        Assert.Contains("neural-sparse.json", error.Message, StringComparison.Ordinal);
        Assert.Contains("maxLenght", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_UnknownPreset_ListsKnownOnes()
    {
        WriteManifest("""{ "preset": "doc-v9" }""");

        NeuralSparseException error = LoadFails(_directory);

        Assert.Contains("doc-v9", error.Message, StringComparison.Ordinal);
        Assert.Contains("doc-v3-gte", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BadMode_SaysTheAcceptedValues()
    {
        WriteManifest("""{ "mode": "query-only" }""");

        Assert.Contains("\"doc-only\" or \"bi-encoder\"", LoadFails(_directory).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_NoModeAndNoPreset_AsksForOne()
    {
        Assert.Contains("\"mode\"", LoadFails(_directory).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_Preset_SuppliesModeActivationPruneAndName()
    {
        WriteManifest("""{ "preset": "opensearch-project/opensearch-neural-sparse-encoding-doc-v3-distill" }""");
        File.WriteAllText(Path.Combine(_directory, "idf.json"), """{ "hello": 2.5 }""");

        SparseModelDefinition model = ModelDirectory.Load(_directory);

        Assert.Equal("doc-v3-distill", model.Name);
        Assert.Equal(SparseModelMode.DocOnly, model.Mode);
        Assert.Equal(SparseActivation.Log1pLog1pRelu, model.Activation);
        Assert.Equal(0.1f, model.ModelPruneRatio);
        Assert.Equal(512, model.MaxLength);
        Assert.Equal([0, 1, 2, 3, 4], model.SpecialTokenIds.Order());
        Assert.Equal(2.5f, model.Idf![5]);
        Assert.Equal(1f, model.Idf[6]);
    }

    [Fact]
    public void Load_ExplicitFieldsOverrideThePreset()
    {
        WriteManifest("""{ "preset": "doc-v3-gte", "name": "gte", "modelPruneRatio": 0, "maxLength": 8192, "mode": "bi-encoder" }""");

        SparseModelDefinition model = ModelDirectory.Load(_directory);

        Assert.Equal("gte", model.Name);
        Assert.Equal(0f, model.ModelPruneRatio);
        Assert.Equal(8192, model.MaxLength);
        Assert.Equal(SparseModelMode.BiEncoder, model.Mode);
    }

    [Fact]
    public void Load_IdfFromAnotherVocabulary_IsRejected()
    {
        WriteManifest("""{ "mode": "doc-only" }""");
        File.WriteAllText(Path.Combine(_directory, "idf.json"), """{ "bonjour": 2.5, "monde": 1.5 }""");

        Assert.Contains("none is in the model's vocabulary", LoadFails(_directory).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_NonPositiveIdfWeight_IsRejected()
    {
        WriteManifest("""{ "mode": "doc-only" }""");
        File.WriteAllText(Path.Combine(_directory, "idf.json"), """{ "hello": 0 }""");

        Assert.Contains("positive", LoadFails(_directory).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_SpecialIdOutsideVocabulary_IsRejected()
    {
        WriteManifest("""{ "mode": "bi-encoder", "specialTokenIds": [0, 70000] }""");

        Assert.Contains("70000", LoadFails(_directory).Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static NeuralSparseException LoadFails(string directory)
    {
        var error = Assert.Throws<NeuralSparseException>(() => ModelDirectory.Load(directory));
        Assert.Equal(NeuralSparseErrorKind.ModelLoad, error.Kind);
        return error;
    }

    private void WriteManifest(string json) => File.WriteAllText(Path.Combine(_directory, "neural-sparse.json"), json);
}
