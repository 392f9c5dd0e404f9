using NeuralSparse.Core.Errors;
using NeuralSparse.Core.Models.Hub;
using NeuralSparse.Core.Sparse;
using NeuralSparse.Core.Tokenization;

namespace NeuralSparse.Core.Models;

/// <summary>
/// A loaded, validated model directory: everything but the inference backend. Built by <see cref="ModelDirectory.Load"/>.
/// </summary>
public sealed class SparseModelDefinition
{
    internal SparseModelDefinition(
        string name,
        string directory,
        string modelPath,
        string tokenizerPath,
        WordPieceTokenizer tokenizer,
        IdfTable? idf,
        SparseModelMode mode,
        SparseActivation activation,
        int maxLength,
        IReadOnlySet<int> specialTokenIds,
        float modelPruneRatio,
        SparseModelPreset? preset,
        bool synthetic,
        string? description,
        HubModelSource? hub = null)
    {
        Name = name;
        Directory = directory;
        ModelPath = modelPath;
        TokenizerPath = tokenizerPath;
        Tokenizer = tokenizer;
        Idf = idf;
        Mode = mode;
        Activation = activation;
        MaxLength = maxLength;
        SpecialTokenIds = specialTokenIds;
        ModelPruneRatio = modelPruneRatio;
        Preset = preset;
        Synthetic = synthetic;
        Description = description;
        Hub = hub;
    }

    /// <summary>The name clients use.</summary>
    public string Name { get; }

    /// <summary>The same model served under another name.</summary>
    public SparseModelDefinition WithName(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return new SparseModelDefinition(name, Directory, ModelPath, TokenizerPath, Tokenizer, Idf, Mode, Activation, MaxLength,
            SpecialTokenIds, ModelPruneRatio, Preset, Synthetic, Description, Hub);
    }

    /// <summary>The same model with another maximum token count (a service setting overriding the manifest).</summary>
    /// <exception cref="NeuralSparseException">Kind ModelLoad: below 2, or beyond the positions config.json allows.</exception>
    public SparseModelDefinition WithMaxLength(int maxLength)
    {
        if (maxLength < 2 || (Hub is not null && maxLength > Hub.Config.PositionCapacity))
        {
            throw NeuralSparseException.ModelLoad(
                $"Model '{Name}': a maximum length of {maxLength} tokens is not possible; it must be at least 2 ([CLS] and [SEP]){(Hub is null ? "" : $" and at most the {Hub.Config.PositionCapacity} positions '{Hub.ConfigPath}' allows")}.");
        }

        return new SparseModelDefinition(Name, Directory, ModelPath, TokenizerPath, Tokenizer, Idf, Mode, Activation, maxLength,
            SpecialTokenIds, ModelPruneRatio, Preset, Synthetic, Description, Hub);
    }

    /// <summary>The model directory.</summary>
    public string Directory { get; }

    /// <summary>Path of <c>model.onnx</c>, or of the weights (<c>model.safetensors</c>) of a Hugging Face folder.</summary>
    public string ModelPath { get; }

    /// <summary>Path of the tokenizer file.</summary>
    public string TokenizerPath { get; }

    /// <summary>The model's tokenizer.</summary>
    public WordPieceTokenizer Tokenizer { get; }

    /// <summary>Query weights (doc-only models); null for bi-encoders without idf.json.</summary>
    public IdfTable? Idf { get; }

    /// <summary>How queries are encoded.</summary>
    public SparseModelMode Mode { get; }

    /// <summary>The activation after max-pooling.</summary>
    public SparseActivation Activation { get; }

    /// <summary>Maximum tokens per text including [CLS]/[SEP].</summary>
    public int MaxLength { get; }

    /// <summary>Token ids that never appear in output.</summary>
    public IReadOnlySet<int> SpecialTokenIds { get; }

    /// <summary>Model-side prune ratio (strict: keep w &gt; ratio × max); 0 keeps every positive weight.</summary>
    public float ModelPruneRatio { get; }

    /// <summary>The preset this model was declared as, if any.</summary>
    public SparseModelPreset? Preset { get; }

    /// <summary>True when the weights are generated (random, untrained): outputs have no meaning.</summary>
    public bool Synthetic { get; }

    /// <summary>Free-text description.</summary>
    public string? Description { get; }

    /// <summary>
    /// For a Hugging Face model folder (config.json + safetensors, no model.onnx): what the backend builds the graph
    /// from. Null for a folder with model.onnx.
    /// </summary>
    internal HubModelSource? Hub { get; }
}
