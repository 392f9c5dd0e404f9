namespace NeuralSparse.Core.Errors;

/// <summary>An error of the neural sparse core, classified by <see cref="Kind"/>.</summary>
public sealed class NeuralSparseException : Exception
{
    /// <summary>Creates an error of the given kind.</summary>
    public NeuralSparseException(NeuralSparseErrorKind kind, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
    }

    /// <summary>What kind of failure this is; transports map it to a status.</summary>
    public NeuralSparseErrorKind Kind { get; }

    internal static NeuralSparseException ModelLoad(string message, Exception? inner = null) =>
        new(NeuralSparseErrorKind.ModelLoad, message, inner);

    internal static NeuralSparseException Validation(string message) =>
        new(NeuralSparseErrorKind.Validation, message);
}
