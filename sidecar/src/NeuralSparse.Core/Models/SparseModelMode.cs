namespace NeuralSparse.Core.Models;

/// <summary>How a model encodes queries.</summary>
public enum SparseModelMode
{
    /// <summary>Documents go through the model; queries are weighted by idf.json without running it.</summary>
    DocOnly,

    /// <summary>Documents and queries both go through the model.</summary>
    BiEncoder,
}

/// <summary>The transformer family, which decides the graph's inputs.</summary>
public enum SparseModelArchitecture
{
    /// <summary>BertForMaskedLM: input_ids, attention_mask, token_type_ids.</summary>
    Bert,

    /// <summary>DistilBertForMaskedLM: input_ids, attention_mask.</summary>
    DistilBert,

    /// <summary>GTE (NewForMaskedLM): input_ids, attention_mask; may emit more columns than the vocabulary.</summary>
    Gte,
}
