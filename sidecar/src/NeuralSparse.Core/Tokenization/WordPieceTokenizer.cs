using System.Buffers;
using System.Text;

namespace NeuralSparse.Core.Tokenization;

/// <summary>
/// BERT WordPiece tokenizer with the ids of Hugging Face's BertTokenizer (fast): special tokens matched in the raw
/// text, BertNormalizer (clean text, CJK spacing, NFD accent strip, lowercase), BertPreTokenizer (whitespace and
/// punctuation) and greedy longest-match WordPiece with whole-word [UNK]. Thread-safe and allocation-light:
/// scratch memory is pooled, vocabulary look-ups are by span.
/// </summary>
public sealed class WordPieceTokenizer
{
    private readonly string[] _idToToken;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly (string Content, int Id)[] _rawSpecialTokens;
    private readonly SearchValues<char> _specialFirstChars;
    private readonly BertNormalizerOptions _normalizer;
    private readonly string _continuingSubwordPrefix;
    private readonly int _maxInputCharsPerWord;
    private readonly int _longestTokenLength;

    internal WordPieceTokenizer(
        string[] idToToken,
        IReadOnlyList<(string Content, int Id)> rawSpecialTokens,
        BertNormalizerOptions normalizer,
        string unknownToken,
        string continuingSubwordPrefix,
        int maxInputCharsPerWord)
    {
        _idToToken = idToToken;
        var vocabulary = new Dictionary<string, int>(idToToken.Length, StringComparer.Ordinal);
        for (int id = 0; id < idToToken.Length; id++)
        {
            // The first occurrence wins, as when Hugging Face reads vocab.txt into a dict in order.
            vocabulary.TryAdd(idToToken[id], id);
            _longestTokenLength = Math.Max(_longestTokenLength, idToToken[id].Length);
        }

        _lookup = vocabulary.GetAlternateLookup<ReadOnlySpan<char>>();
        _rawSpecialTokens = [.. rawSpecialTokens.OrderByDescending(t => t.Content.Length)];
        _specialFirstChars = SearchValues.Create(_rawSpecialTokens.Select(t => t.Content[0]).Distinct().ToArray());
        _normalizer = normalizer;
        _continuingSubwordPrefix = continuingSubwordPrefix;
        _maxInputCharsPerWord = maxInputCharsPerWord;

        UnknownId = RequireToken(vocabulary, unknownToken);
        ClsId = RequireToken(vocabulary, "[CLS]");
        SepId = RequireToken(vocabulary, "[SEP]");
        PadId = vocabulary.TryGetValue("[PAD]", out int pad) ? pad : 0;
    }

    /// <summary>Number of entries in the vocabulary (the model's logit dimension).</summary>
    public int VocabularySize => _idToToken.Length;

    /// <summary>Id of <c>[CLS]</c>.</summary>
    public int ClsId { get; }

    /// <summary>Id of <c>[SEP]</c>.</summary>
    public int SepId { get; }

    /// <summary>Id of <c>[PAD]</c>.</summary>
    public int PadId { get; }

    /// <summary>Id of the unknown token, <c>[UNK]</c>.</summary>
    public int UnknownId { get; }

    /// <summary>Ids of the tokens matched verbatim in raw text ([PAD], [UNK], [CLS], [SEP], [MASK] for BERT).</summary>
    public IEnumerable<int> SpecialTokenIds => _rawSpecialTokens.Select(t => t.Id);

    /// <summary>Loads <c>tokenizer.json</c> (Hugging Face format) or <c>vocab.txt</c> (one token per line), by extension.</summary>
    public static WordPieceTokenizer Load(string path) => TokenizerFileLoader.Load(path);

    /// <summary>The vocabulary entry of <paramref name="id"/>, e.g. <c>"##ing"</c>.</summary>
    public string IdToToken(int id) => (uint)id < (uint)_idToToken.Length
        ? _idToToken[id]
        : throw new ArgumentOutOfRangeException(nameof(id), id, $"Token id must be in [0, {_idToToken.Length}).");

    /// <summary>Looks up a vocabulary entry by its exact string.</summary>
    public bool TryGetId(ReadOnlySpan<char> token, out int id) => _lookup.TryGetValue(token, out id);

    /// <summary>
    /// Encodes <paramref name="text"/> as <c>[CLS] tokens [SEP]</c>, keeping the first
    /// <paramref name="maxLength"/> − 2 tokens (Hugging Face's right truncation).
    /// </summary>
    public int[] Encode(string text, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 2);
        var sink = new TokenSink(initialCapacity: text.Length, limit: maxLength - 2);
        try
        {
            EncodeContent(text, ref sink);
            int[] ids = new int[sink.Count + 2];
            ids[0] = ClsId;
            sink.Written.CopyTo(ids.AsSpan(1));
            ids[^1] = SepId;
            return ids;
        }
        finally
        {
            sink.Dispose();
        }
    }

    /// <summary>
    /// Writes token ids for <paramref name="text"/> into <paramref name="destination"/> and returns how many were
    /// written. Tokens that do not fit are dropped (right truncation); tokenization stops as soon as it is full.
    /// </summary>
    public int Encode(ReadOnlySpan<char> text, Span<int> destination, bool addSpecialTokens)
    {
        if (!addSpecialTokens)
        {
            var content = new TokenSink(destination);
            EncodeContent(text, ref content);
            return content.Count;
        }

        if (destination.Length < 2)
        {
            throw new ArgumentException("Room for [CLS] and [SEP] is needed.", nameof(destination));
        }

        destination[0] = ClsId;
        var sink = new TokenSink(destination[1..^1]);
        EncodeContent(text, ref sink);
        destination[sink.Count + 1] = SepId;
        return sink.Count + 2;
    }

    /// <summary>The token strings of <paramref name="text"/> without [CLS]/[SEP], at most <paramref name="maxTokens"/>.</summary>
    public IReadOnlyList<string> Tokenize(string text, int maxTokens = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfNegative(maxTokens);
        var sink = new TokenSink(initialCapacity: text.Length, limit: maxTokens);
        try
        {
            EncodeContent(text, ref sink);
            var tokens = new string[sink.Count];
            for (int i = 0; i < tokens.Length; i++)
            {
                tokens[i] = _idToToken[sink.Written[i]];
            }

            return tokens;
        }
        finally
        {
            sink.Dispose();
        }
    }

    /// <summary>
    /// Text of <paramref name="ids"/> as Hugging Face's WordPiece decoder writes it: special tokens skipped,
    /// <c>##</c> pieces joined to the previous token, and the spaces before punctuation and contractions removed.
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var specials = new HashSet<int>(SpecialTokenIds);
        var text = new StringBuilder();
        foreach (int id in ids)
        {
            if (specials.Contains(id))
            {
                continue;
            }

            string token = IdToToken(id);
            if (token.StartsWith(_continuingSubwordPrefix, StringComparison.Ordinal) && text.Length > 0)
            {
                text.Append(token, _continuingSubwordPrefix.Length, token.Length - _continuingSubwordPrefix.Length);
            }
            else
            {
                if (text.Length > 0)
                {
                    text.Append(' ');
                }

                text.Append(token);
            }
        }

        foreach ((string from, string to) in DecodeCleanup)
        {
            text.Replace(from, to);
        }

        return text.ToString();
    }

    private static readonly (string From, string To)[] DecodeCleanup =
    [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ];

    private static int RequireToken(Dictionary<string, int> vocabulary, string token) =>
        vocabulary.TryGetValue(token, out int id)
            ? id
            : throw new InvalidDataException($"The vocabulary has no '{token}' token; a BERT WordPiece vocabulary is required.");

    private void EncodeContent(ReadOnlySpan<char> text, ref TokenSink sink)
    {
        int segmentStart = 0;
        int position = 0;
        while (!sink.IsFull && _rawSpecialTokens.Length > 0)
        {
            int offset = text[position..].IndexOfAny(_specialFirstChars);
            if (offset < 0)
            {
                break;
            }

            int at = position + offset;
            (string Content, int Id)? match = MatchSpecialToken(text[at..]);
            if (match is null)
            {
                position = at + 1;
                continue;
            }

            TokenizeSegment(text[segmentStart..at], ref sink);
            sink.TryAdd(match.Value.Id);
            segmentStart = position = at + match.Value.Content.Length;
        }

        if (!sink.IsFull)
        {
            TokenizeSegment(text[segmentStart..], ref sink);
        }
    }

    private (string Content, int Id)? MatchSpecialToken(ReadOnlySpan<char> text)
    {
        // Ordered longest first, so the first hit is the leftmost-longest match.
        foreach ((string content, int id) in _rawSpecialTokens)
        {
            if (text.StartsWith(content, StringComparison.Ordinal))
            {
                return (content, id);
            }
        }

        return null;
    }

    private void TokenizeSegment(ReadOnlySpan<char> segment, ref TokenSink sink)
    {
        if (segment.IsEmpty)
        {
            return;
        }

        var normalized = new PooledCharBuffer(segment.Length + 8);
        var scratch = new PooledCharBuffer(segment.Length + 8);
        try
        {
            Normalize(segment, ref normalized, ref scratch);
            PreTokenizeAndWordPiece(normalized.Written, ref sink);
        }
        finally
        {
            normalized.Dispose();
            scratch.Dispose();
        }
    }

    private void Normalize(ReadOnlySpan<char> input, ref PooledCharBuffer output, ref PooledCharBuffer scratch)
    {
        // Pass 1: clean text and space out CJK ideographs.
        bool allAscii = true;
        foreach (Rune rune in input.EnumerateRunes())
        {
            if (_normalizer.CleanText)
            {
                if (rune.Value is 0 or 0xFFFD || BertTextRules.IsControl(rune))
                {
                    continue;
                }

                if (BertTextRules.IsWhitespace(rune))
                {
                    scratch.Append(' ');
                    continue;
                }
            }

            if (_normalizer.HandleChineseCharacters && BertTextRules.IsChineseCharacter(rune))
            {
                scratch.Append(' ');
                scratch.Append(rune);
                scratch.Append(' ');
                allAscii = false;
                continue;
            }

            allAscii &= rune.IsAscii;
            scratch.Append(rune);
        }

        ReadOnlySpan<char> cleaned = scratch.Written;
        bool stripAccents = _normalizer.ShouldStripAccents;
        if (allAscii)
        {
            // ASCII has no combining marks and a trivial lowercase: the common case costs one copy.
            Span<char> target = output.GetSpan(cleaned.Length);
            if (_normalizer.Lowercase)
            {
                System.Text.Ascii.ToLower(cleaned, target, out int written);
                output.Advance(written);
            }
            else
            {
                cleaned.CopyTo(target);
                output.Advance(cleaned.Length);
            }

            return;
        }

        // Pass 2: NFD (only to strip accents), then drop Mn and lowercase rune by rune.
        ReadOnlySpan<char> source = cleaned;
        var decomposed = new PooledCharBuffer(0);
        try
        {
            if (stripAccents && !IsDecomposed(cleaned))
            {
                Decompose(cleaned, ref decomposed);
                source = decomposed.Written;
            }

            foreach (Rune rune in source.EnumerateRunes())
            {
                if (stripAccents && BertTextRules.IsNonSpacingMark(rune))
                {
                    continue;
                }

                output.Append(_normalizer.Lowercase ? Rune.ToLowerInvariant(rune) : rune);
            }
        }
        finally
        {
            decomposed.Dispose();
        }
    }

    // .NET's normalization (ICU) refuses U+FFFE, a noncharacter that Hugging Face keeps (its word becomes [UNK]). It
    // has no decomposition and never combines, so the parts around it are decomposed on their own.
    private const char NonCharacter = '\uFFFE';

    private static bool IsDecomposed(ReadOnlySpan<char> text)
    {
        foreach (Range part in text.Split(NonCharacter))
        {
            if (!text[part].IsNormalized(NormalizationForm.FormD))
            {
                return false;
            }
        }

        return true;
    }

    private static void Decompose(ReadOnlySpan<char> text, ref PooledCharBuffer output)
    {
        bool first = true;
        foreach (Range range in text.Split(NonCharacter))
        {
            if (!first)
            {
                output.Append(NonCharacter);
            }

            first = false;
            ReadOnlySpan<char> part = text[range];
            int length = part.GetNormalizedLength(NormalizationForm.FormD);
            part.TryNormalize(output.GetSpan(length), out int written, NormalizationForm.FormD);
            output.Advance(written);
        }
    }

    private void PreTokenizeAndWordPiece(ReadOnlySpan<char> text, ref TokenSink sink)
    {
        int wordStart = -1;
        int index = 0;
        while (index < text.Length && !sink.IsFull)
        {
            Rune.DecodeFromUtf16(text[index..], out Rune rune, out int width);
            bool isSpace = BertTextRules.IsWhitespace(rune);
            bool isPunctuation = !isSpace && BertTextRules.IsPunctuation(rune);
            if (isSpace || isPunctuation)
            {
                if (wordStart >= 0)
                {
                    WordPiece(text[wordStart..index], ref sink);
                    wordStart = -1;
                }

                if (isPunctuation)
                {
                    WordPiece(text.Slice(index, width), ref sink);
                }
            }
            else if (wordStart < 0)
            {
                wordStart = index;
            }

            index += width;
        }

        if (wordStart >= 0)
        {
            WordPiece(text[wordStart..], ref sink);
        }
    }

    private void WordPiece(ReadOnlySpan<char> word, ref TokenSink sink)
    {
        if (sink.IsFull)
        {
            return;
        }

        if (CountRunes(word) > _maxInputCharsPerWord)
        {
            sink.TryAdd(UnknownId);
            return;
        }

        // A word has at most one piece per char; pieces are committed only if the whole word matches.
        Span<int> pieces = word.Length <= 256 ? stackalloc int[word.Length] : new int[word.Length];
        int prefixLength = _continuingSubwordPrefix.Length;
        Span<char> candidate = stackalloc char[prefixLength + Math.Min(word.Length, _longestTokenLength)];
        _continuingSubwordPrefix.CopyTo(candidate);

        int pieceCount = 0;
        int start = 0;
        while (start < word.Length)
        {
            int end = Math.Min(word.Length, start + _longestTokenLength);
            if (end < word.Length && char.IsLowSurrogate(word[end]))
            {
                end--;
            }

            int found = -1;
            while (end > start)
            {
                ReadOnlySpan<char> piece = word[start..end];
                bool hit;
                if (start == 0)
                {
                    hit = _lookup.TryGetValue(piece, out found);
                }
                else
                {
                    piece.CopyTo(candidate[prefixLength..]);
                    hit = _lookup.TryGetValue(candidate[..(prefixLength + piece.Length)], out found);
                }

                if (hit)
                {
                    break;
                }

                found = -1;
                end -= end - 2 >= start && char.IsLowSurrogate(word[end - 1]) && char.IsHighSurrogate(word[end - 2]) ? 2 : 1;
            }

            if (found < 0)
            {
                sink.TryAdd(UnknownId);
                return;
            }

            pieces[pieceCount++] = found;
            start = end;
        }

        foreach (int id in pieces[..pieceCount])
        {
            if (!sink.TryAdd(id))
            {
                return;
            }
        }
    }

    private static int CountRunes(ReadOnlySpan<char> text)
    {
        int count = text.Length;
        for (int i = 1; i < text.Length; i++)
        {
            if (char.IsLowSurrogate(text[i]) && char.IsHighSurrogate(text[i - 1]))
            {
                count--;
            }
        }

        return count;
    }

    /// <summary>
    /// Where token ids go: a caller's span (fixed size), or a pooled buffer that grows up to a limit. The number of
    /// tokens is not known before normalization: NFD can make the text longer (a Hangul syllable is 2–3 jamo tokens),
    /// so the pooled buffer starts at a guess and grows instead of truncating at it.
    /// </summary>
    private ref struct TokenSink
    {
        private readonly int _limit;
        private Span<int> _destination;
        private int[]? _rented;

        public TokenSink(Span<int> destination)
        {
            _destination = destination;
            _limit = destination.Length;
        }

        public TokenSink(int initialCapacity, int limit)
        {
            _limit = limit;
            _rented = ArrayPool<int>.Shared.Rent(Math.Clamp(initialCapacity, 16, Math.Max(16, limit)));
            _destination = _rented;
        }

        public int Count { get; private set; }

        public readonly bool IsFull => Count >= _limit;

        public readonly ReadOnlySpan<int> Written => _destination[..Count];

        public bool TryAdd(int id)
        {
            if (IsFull)
            {
                return false;
            }

            if (Count == _destination.Length)
            {
                Grow();
            }

            _destination[Count++] = id;
            return true;
        }

        public void Dispose()
        {
            if (_rented is { } rented)
            {
                _rented = null;
                _destination = default;
                ArrayPool<int>.Shared.Return(rented);
            }
        }

        private void Grow()
        {
            // Only a pooled sink can be full of its buffer below its limit; a caller's span has its length as limit.
            int[] bigger = ArrayPool<int>.Shared.Rent((int)Math.Min((long)_destination.Length * 2, Math.Max(_limit, 16)));
            _destination[..Count].CopyTo(bigger);
            ArrayPool<int>.Shared.Return(_rented!);
            _rented = bigger;
            _destination = bigger;
        }
    }
}
