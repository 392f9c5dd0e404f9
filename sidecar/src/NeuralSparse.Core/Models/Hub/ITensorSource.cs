namespace NeuralSparse.Core.Models.Hub;

/// <summary>A stored tensor's name, element type (safetensors spelling: F32, F16, BF16, …) and shape.</summary>
internal sealed record TensorInfo(string Name, string DataType, long[] Shape)
{
    /// <summary>The number of elements.</summary>
    public long ElementCount => Shape.Aggregate(1L, (product, dimension) => checked(product * dimension));

    /// <summary>The shape as <c>[a, b]</c>, for messages.</summary>
    public string ShapeText => FormatShape(Shape);

    /// <summary>Formats a shape as <c>[a, b]</c>.</summary>
    public static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}

/// <summary>
/// Named tensors in Hugging Face's layout (a <c>state_dict</c>), read one at a time as float32. Implemented by
/// safetensors checkpoints on disk and by generated weights in memory, so one graph builder serves both.
/// </summary>
internal interface ITensorSource
{
    /// <summary>Where the tensors come from, for messages (a file path, or "generated weights").</summary>
    string Origin { get; }

    /// <summary>Looks a tensor up by its exact name.</summary>
    bool TryGetInfo(string name, out TensorInfo info);

    /// <summary>Reads tensor <paramref name="name"/> as float32 into <paramref name="destination"/> (exactly its element count).</summary>
    /// <exception cref="InvalidDataException">The tensor's element type cannot be converted to float32.</exception>
    void Read(string name, Span<float> destination);
}
