using System.Globalization;
using System.Text;

namespace NeuralSparse.Core.Tokenization;

/// <summary>
/// Character classes of Hugging Face's BertNormalizer and BertPreTokenizer (tokenizers, Rust), which the fast
/// tokenizers, tokenizer.json and OpenSearch's own bert-uncased analyzer (through DJL) follow. Every check takes a
/// <see cref="Rune"/>: a UTF-16 char would see surrogate halves as category Cs and drop them.
/// </summary>
internal static class BertTextRules
{
    /// <summary>
    /// The general category as Hugging Face's tokenizer sees it. It takes control characters, non-spacing marks and
    /// punctuation from the <c>unicode_categories</c> crate, whose tables are Unicode 8.0; .NET's are newer. Where the
    /// two disagree (docs/tokenizer.md lists the code points) we follow the crate, so that documents encoded here and
    /// queries tokenized by OpenSearch's analyzer split text the same way.
    /// </summary>
    public static UnicodeCategory Category(Rune rune) =>
        rune.Value < FirstDivergence ? Rune.GetUnicodeCategory(rune) : CategoryAboveFirstDivergence(rune);

    private static UnicodeCategory CategoryAboveFirstDivergence(Rune rune)
    {
        UnicodeCategory category = Rune.GetUnicodeCategory(rune);

        // Letters, digits and symbols (most text) skip the table: it holds only Mn, Cf and P* code points.
        bool inTableCategory = category is UnicodeCategory.NonSpacingMark or UnicodeCategory.Format
            or (>= UnicodeCategory.ConnectorPunctuation and <= UnicodeCategory.OtherPunctuation);
        return rune.Value switch
        {
            // Re-categorized since Unicode 8.0: So and Mn in .NET, Po to the crate; Mc in .NET, Mn to the crate.
            0x166D or 0x111C9 => UnicodeCategory.OtherPunctuation,
            0x1734 or 0x1171E => UnicodeCategory.NonSpacingMark,
            _ when inTableCategory && IsNewerThanCrate(rune.Value) => UnicodeCategory.OtherNotAssigned,
            _ => category,
        };
    }

    /// <summary>
    /// Control characters that clean_text removes: categories Cc, Cf and Co, except tab, newline and carriage return.
    /// Unassigned code points (Cn) are kept, as the Rust crate's <c>is_other</c> keeps them (the Python slow
    /// tokenizer drops them); their word becomes [UNK], since no vocabulary has a piece for them.
    /// </summary>
    public static bool IsControl(Rune rune)
    {
        if (rune.IsAscii)
        {
            return rune.Value is (< 0x20 and not ('\t' or '\n' or '\r')) or 0x7F;
        }

        return Category(rune) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.PrivateUse;
    }

    /// <summary>Whitespace: the Unicode White_Space property, which includes tab, newline and carriage return.</summary>
    public static bool IsWhitespace(Rune rune) => Rune.IsWhiteSpace(rune);

    /// <summary>
    /// Punctuation that the pre-tokenizer splits off: all ASCII punctuation (which includes the ASCII symbols
    /// <c>$+&lt;=&gt;^`|~</c> that Unicode files as Sm/Sk/Sc) plus Unicode categories P*.
    /// </summary>
    public static bool IsPunctuation(Rune rune)
    {
        int c = rune.Value;
        if (c < 128)
        {
            return c is (>= 33 and <= 47) or (>= 58 and <= 64) or (>= 91 and <= 96) or (>= 123 and <= 126);
        }

        return Category(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation
            or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation
            or UnicodeCategory.OtherPunctuation;
    }

    /// <summary>
    /// CJK ideographs that get spaces around them. The Extension C/D start is 0x2B920 as in the Rust tokenizer
    /// (the Python slow tokenizer uses 0x2B820); Hiragana, Katakana and Hangul are not included.
    /// </summary>
    public static bool IsChineseCharacter(Rune rune)
    {
        int c = rune.Value;
        return c is (>= 0x4E00 and <= 0x9FFF)
            or (>= 0x3400 and <= 0x4DBF)
            or (>= 0x20000 and <= 0x2A6DF)
            or (>= 0x2A700 and <= 0x2B73F)
            or (>= 0x2B740 and <= 0x2B81F)
            or (>= 0x2B920 and <= 0x2CEAF)
            or (>= 0xF900 and <= 0xFAFF)
            or (>= 0x2F800 and <= 0x2FA1F);
    }

    /// <summary>Whether Hugging Face strips the rune with the accents: category Mn after NFD.</summary>
    public static bool IsNonSpacingMark(Rune rune) => Category(rune) == UnicodeCategory.NonSpacingMark;

    private const int FirstDivergence = 0x061D;

    private static bool IsNewerThanCrate(int c)
    {
        ReadOnlySpan<int> ranges = AssignedAfterUnicode8;
        int lo = 0;
        int hi = (ranges.Length / 2) - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (c < ranges[2 * mid])
            {
                hi = mid - 1;
            }
            else if (c > ranges[(2 * mid) + 1])
            {
                lo = mid + 1;
            }
            else
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Inclusive ranges of code points assigned after Unicode 8.0 as Mn, Cf or P*: unassigned to the crate, so
    /// Hugging Face neither strips, drops nor splits them, and their word becomes [UNK]. Found by comparing every
    /// code point with Hugging Face tokenizers 0.22 (DifferentialTokenizerTests.EveryCodePoint_MatchesHuggingFace).
    /// </summary>
    private static ReadOnlySpan<int> AssignedAfterUnicode8 =>
    [
        0x061D, 0x061D, 0x07FD, 0x07FD, 0x0890, 0x0891, 0x0897, 0x089F, 0x08CA, 0x08E2, 0x09FD, 0x09FE, 0x0A76, 0x0A76,
        0x0AFA, 0x0AFF, 0x0B55, 0x0B55, 0x0C04, 0x0C04, 0x0C3C, 0x0C3C, 0x0C77, 0x0C77, 0x0C84, 0x0C84, 0x0D00, 0x0D00,
        0x0D3B, 0x0D3C, 0x0D81, 0x0D81, 0x0EBA, 0x0EBA, 0x0ECE, 0x0ECE, 0x180F, 0x180F, 0x1885, 0x1886, 0x1ABF, 0x1ACE,
        0x1B4E, 0x1B4F, 0x1B7D, 0x1B7F, 0x1DF6, 0x1DFB, 0x2E43, 0x2E4F, 0x2E52, 0x2E5D, 0xA82C, 0xA82C, 0xA8C5, 0xA8C5,
        0xA8FF, 0xA8FF, 0xA9BD, 0xA9BD, 0x10D24, 0x10D27, 0x10D69, 0x10D6E, 0x10EAB, 0x10EAD, 0x10EFC, 0x10EFF,
        0x10F46, 0x10F50, 0x10F55, 0x10F59, 0x10F82, 0x10F89, 0x11070, 0x11070, 0x11073, 0x11074, 0x110C2, 0x110C2,
        0x110CD, 0x110CD, 0x111CF, 0x111CF, 0x1123E, 0x1123E, 0x11241, 0x11241, 0x1133B, 0x1133B,
        0x113BB, 0x113C0, 0x113CE, 0x113CE, 0x113D0, 0x113D0, 0x113D2, 0x113D2, 0x113D4, 0x113D5, 0x113D7, 0x113D8,
        0x113E1, 0x113E2, 0x11438, 0x1143F, 0x11442, 0x11444, 0x11446, 0x11446, 0x1144B, 0x1144F, 0x1145A, 0x1145B,
        0x1145D, 0x1145E, 0x11660, 0x1166C, 0x116B9, 0x116B9, 0x1182F, 0x11837, 0x11839, 0x1183B, 0x1193B, 0x1193C,
        0x1193E, 0x1193E, 0x11943, 0x11946, 0x119D4, 0x119D7, 0x119DA, 0x119DB, 0x119E0, 0x119E0, 0x119E2, 0x119E2,
        0x11A01, 0x11A0A, 0x11A33, 0x11A38, 0x11A3B, 0x11A47, 0x11A51, 0x11A56, 0x11A59, 0x11A5B, 0x11A8A, 0x11A96,
        0x11A98, 0x11A9C, 0x11A9E, 0x11AA2, 0x11B00, 0x11B09, 0x11BE1, 0x11BE1, 0x11C30, 0x11C36, 0x11C38, 0x11C3D,
        0x11C3F, 0x11C3F, 0x11C41, 0x11C45, 0x11C70, 0x11C71, 0x11C92, 0x11CA7, 0x11CAA, 0x11CB0, 0x11CB2, 0x11CB3,
        0x11CB5, 0x11CB6, 0x11D31, 0x11D36, 0x11D3A, 0x11D3A, 0x11D3C, 0x11D3D, 0x11D3F, 0x11D45, 0x11D47, 0x11D47,
        0x11D90, 0x11D91, 0x11D95, 0x11D95, 0x11D97, 0x11D97, 0x11EF3, 0x11EF4, 0x11EF7, 0x11EF8, 0x11F00, 0x11F01,
        0x11F36, 0x11F3A, 0x11F40, 0x11F40, 0x11F42, 0x11F4F, 0x11F5A, 0x11F5A, 0x11FFF, 0x11FFF, 0x12FF1, 0x12FF2,
        0x13430, 0x13440, 0x13447, 0x13455, 0x1611E, 0x16129, 0x1612D, 0x1612F, 0x16D6D, 0x16D6F, 0x16E97, 0x16E9A,
        0x16F4F, 0x16F4F, 0x16FE2, 0x16FE2, 0x16FE4, 0x16FE4, 0x1CF00, 0x1CF2D, 0x1CF30, 0x1CF46, 0x1E000, 0x1E006,
        0x1E008, 0x1E018, 0x1E01B, 0x1E021, 0x1E023, 0x1E024, 0x1E026, 0x1E02A, 0x1E08F, 0x1E08F, 0x1E130, 0x1E136,
        0x1E2AE, 0x1E2AE, 0x1E2EC, 0x1E2EF, 0x1E4EC, 0x1E4EF, 0x1E5EE, 0x1E5EF, 0x1E5FF, 0x1E5FF, 0x1E944, 0x1E94A,
        0x1E95E, 0x1E95F
    ];
}
