namespace NeuralSparse.Core.Sparse;

/// <summary>The activation applied to max-pooled MLM logits.</summary>
public enum SparseActivation
{
    /// <summary><c>log(1 + relu(x))</c>: v1, v2-distill, doc-v1, doc-v2-distill, doc-v2-mini.</summary>
    Log1pRelu,

    /// <summary><c>log(1 + log(1 + relu(x)))</c>, the "l0" activation of doc-v3-distill and doc-v3-gte.</summary>
    Log1pLog1pRelu,
}
