using System.Buffers;
using System.Text;

namespace NeuralSparse.Core.Tokenization;

/// <summary>A growable char buffer rented from the shared pool; the tokenizer's only scratch memory.</summary>
internal struct PooledCharBuffer : IDisposable
{
    private char[] _array;
    private int _length;

    public PooledCharBuffer(int initialCapacity)
    {
        _array = ArrayPool<char>.Shared.Rent(Math.Max(16, initialCapacity));
        _length = 0;
    }

    public readonly int Length => _length;

    public readonly Span<char> Written => _array.AsSpan(0, _length);

    public void Append(char c)
    {
        if (_length == _array.Length)
        {
            Grow(1);
        }

        _array[_length++] = c;
    }

    public void Append(Rune rune)
    {
        if (_length + 2 > _array.Length)
        {
            Grow(2);
        }

        _length += rune.EncodeToUtf16(_array.AsSpan(_length));
    }

    public void Clear() => _length = 0;

    /// <summary>Exposes free space of at least <paramref name="size"/> chars; commit what was written with <see cref="Advance"/>.</summary>
    public Span<char> GetSpan(int size)
    {
        if (_length + size > _array.Length)
        {
            Grow(size);
        }

        return _array.AsSpan(_length);
    }

    public void Advance(int count) => _length += count;

    public void Dispose()
    {
        char[] array = _array;
        _array = [];
        if (array.Length > 0)
        {
            ArrayPool<char>.Shared.Return(array);
        }
    }

    private void Grow(int extra)
    {
        char[] bigger = ArrayPool<char>.Shared.Rent(Math.Max(_array.Length * 2, _length + extra));
        _array.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<char>.Shared.Return(_array);
        _array = bigger;
    }
}
