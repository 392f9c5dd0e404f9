using NeuralSparse.Core.Sparse;

namespace NeuralSparse.Core.Models;

/// <summary>How modes and activations are spelled in manifests, info output and the gRPC API.</summary>
public static class ModelWireNames
{
    /// <summary><see cref="SparseModelMode.DocOnly"/>.</summary>
    public const string DocOnly = "doc-only";

    /// <summary><see cref="SparseModelMode.BiEncoder"/>.</summary>
    public const string BiEncoder = "bi-encoder";

    /// <summary><see cref="SparseActivation.Log1pRelu"/>.</summary>
    public const string Log1pRelu = "log1p_relu";

    /// <summary><see cref="SparseActivation.Log1pLog1pRelu"/>.</summary>
    public const string Log1pLog1pRelu = "log1p_log1p_relu";

    /// <summary>The wire name of <paramref name="mode"/>.</summary>
    public static string Of(SparseModelMode mode) => mode == SparseModelMode.DocOnly ? DocOnly : BiEncoder;

    /// <summary>The wire name of <paramref name="activation"/>.</summary>
    public static string Of(SparseActivation activation) => activation == SparseActivation.Log1pRelu ? Log1pRelu : Log1pLog1pRelu;
}
