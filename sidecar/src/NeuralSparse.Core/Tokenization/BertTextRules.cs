using System.Globalization;
using System.Text;

namespace NeuralSparse.Core.Tokenization;

/// <summary>
/// Character classes of Hugging Face's BertNormalizer and BertPreTokenizer (tokenizers, Rust), which the fast
/// tokenizers and tokenizer.json follow. Every check takes a <see cref="Rune"/>: a UTF-16 char would see
/// surrogate halves as category Cs and drop them.
/// </summary>
internal static class BertTextRules
{
    /// <summary>Control characters that clean_text removes: category C* except tab, newline and carriage return.</summary>
    public static bool IsControl(Rune rune)
    {
        if (rune.Value is '\t' or '\n' or '\r')
        {
            return false;
        }

        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;
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

        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
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
}
