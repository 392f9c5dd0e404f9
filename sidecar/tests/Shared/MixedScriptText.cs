using System.Globalization;
using System.Text;

namespace NeuralSparse.Tests;

/// <summary>
/// A seeded generator of texts that mix the scripts and oddities a tokenizer must survive: Latin with accents and
/// combining marks, Greek, Cyrillic, Hebrew and Arabic with marks, Devanagari, Thai, Hangul syllables and jamo,
/// kana, CJK (BMP, extensions, compatibility), fullwidth forms, math alphanumerics, emoji with ZWJ, skin tones and
/// flags, variation selectors, zero-width and bidi controls, odd spaces, control characters, unassigned and private
/// code points, <c>[SEP]</c>-like literals and words of 100+ characters. The same seed gives the same texts.
/// </summary>
internal sealed class MixedScriptText(int seed)
{
    private static readonly (int First, int Last)[] Latin = [(0x41, 0x5A), (0x61, 0x7A), (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x24F), (0x1E00, 0x1EFF)];
    private static readonly (int First, int Last)[] CombiningMarks = [(0x300, 0x36F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF)];
    private static readonly (int First, int Last)[] Greek = [(0x370, 0x3FF), (0x1F00, 0x1FFF)];
    private static readonly (int First, int Last)[] Cyrillic = [(0x400, 0x52F)];
    private static readonly (int First, int Last)[] HebrewArabic = [(0x591, 0x5F4), (0x600, 0x6FF), (0x750, 0x77F), (0x8A0, 0x8FF), (0xFB1D, 0xFB4F)];
    private static readonly (int First, int Last)[] Devanagari = [(0x900, 0x97F)];
    private static readonly (int First, int Last)[] Thai = [(0xE00, 0xE7F)];
    private static readonly (int First, int Last)[] Hangul = [(0xAC00, 0xD7A3), (0xAC00, 0xD7A3), (0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xD7B0, 0xD7FF)];
    private static readonly (int First, int Last)[] Kana = [(0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF61, 0xFF9F)];
    private static readonly (int First, int Last)[] Cjk =
    [
        (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B81F), (0x2B820, 0x2CEAF), (0x2CEB0, 0x2EBEF),
        (0x30000, 0x3134F), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F), (0x2E80, 0x2FDF), (0x3000, 0x303F), (0x3200, 0x33FF),
    ];
    private static readonly (int First, int Last)[] Fullwidth = [(0xFF01, 0xFF5E), (0xFFE0, 0xFFEE)];
    private static readonly (int First, int Last)[] MathAlphanumerics = [(0x1D400, 0x1D7FF), (0x2100, 0x214F)];
    private static readonly (int First, int Last)[] Emoji = [(0x1F300, 0x1F5FF), (0x1F600, 0x1F64F), (0x1F680, 0x1F6FF), (0x1F900, 0x1FAFF), (0x2600, 0x27BF)];
    private static readonly (int First, int Last)[] Symbols = [(0x2000, 0x206F), (0x2190, 0x23FF), (0x2E00, 0x2E7F), (0xA0, 0xBF)];
    private static readonly int[] ZeroWidthAndBidi = [0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0x2066, 0x2067, 0x2068, 0x2069, 0xFEFF, 0x180E, 0xAD, 0x34F, 0x61C];
    private static readonly int[] OddSpaces = [0x9, 0xA, 0xD, 0xB, 0xC, 0x85, 0xA0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0x1C, 0x1D, 0x1E, 0x1F];
    private static readonly int[] NonCharacters = [0xFFFE, 0xFFFF, 0xFFFD, 0xFDD0, 0x1FFFE, 0x10FFFF];
    private static readonly string[] AsciiWords = ["the", "Quick", "BROWN", "fox", "unaffable", "tokenization", "neural", "sparse", "search", "OpenSearch", "don't", "e-mail", "x86_64", "naïve"];
    private static readonly string[] SpecialLike =
    [
        "[SEP]", "[CLS]", "[PAD]", "[MASK]", "[UNK]", "[sep]", "[SEP", "SEP]", "[[SEP]]", "[SEP][CLS]", "[ SEP ]", "##", "##ing", "[unused1]", "[MASK]]", "[[MASK]",
    ];

    private readonly Random _random = new(seed);

    /// <summary>Allows unpaired UTF-16 surrogates (invalid in JSON-decoded text, impossible in a Rust string).</summary>
    public bool LoneSurrogates { get; init; }

    /// <summary>The next text: 1 to 12 pieces of one kind each, joined by spaces, odd spaces, punctuation or nothing.</summary>
    public string Next()
    {
        var text = new StringBuilder();
        int pieces = 1 + _random.Next(12);
        for (int i = 0; i < pieces; i++)
        {
            if (i > 0)
            {
                AppendSeparator(text);
            }

            AppendPiece(text);
        }

        return text.ToString();
    }

    /// <summary>
    /// The text with every UTF-16 unit outside printable ASCII, and <c>"</c> and <c>\</c>, as <c>\uXXXX</c>: readable in
    /// failure messages, and the content of a JSON string as Python's <c>json.dumps</c> writes it, lone surrogates included.
    /// </summary>
    public static string Escape(string text)
    {
        var escaped = new StringBuilder(text.Length * 2);
        foreach (char c in text)
        {
            if (c is >= ' ' and <= '~' and not '\\' and not '"')
            {
                escaped.Append(c);
            }
            else
            {
                escaped.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
        }

        return escaped.ToString();
    }

    private void AppendSeparator(StringBuilder text)
    {
        switch (_random.Next(8))
        {
            case < 4:
                text.Append(' ');
                break;
            case 4:
                AppendRune(text, Pick(OddSpaces));
                break;
            case 5:
                text.Append(",.!?;:'\"()-/"[_random.Next(12)]);
                break;
            case 6:
                AppendRune(text, Pick(ZeroWidthAndBidi));
                break;
            default:
                break; // glued to the previous piece
        }
    }

    private void AppendPiece(StringBuilder text)
    {
        switch (_random.Next(24))
        {
            case 0:
            case 1:
                AppendWord(text, Latin, accents: true);
                break;
            case 2:
                AppendAsciiWord(text);
                break;
            case 3:
                AppendWord(text, Greek, accents: true);
                break;
            case 4:
                AppendWord(text, Cyrillic, accents: false);
                break;
            case 5:
                AppendWord(text, HebrewArabic, accents: false);
                break;
            case 6:
                AppendWord(text, Devanagari, accents: false);
                break;
            case 7:
                AppendWord(text, Thai, accents: false);
                break;
            case 8:
            case 9:
                AppendWord(text, Hangul, accents: false);
                break;
            case 10:
                AppendWord(text, Kana, accents: false);
                break;
            case 11:
                AppendWord(text, Cjk, accents: false);
                break;
            case 12:
                AppendWord(text, Fullwidth, accents: false);
                break;
            case 13:
                AppendWord(text, MathAlphanumerics, accents: false);
                break;
            case 14:
                AppendEmoji(text);
                break;
            case 15:
                AppendWord(text, Symbols, accents: false);
                break;
            case 16:
                text.Append(Pick(SpecialLike));
                break;
            case 17:
                AppendLongWord(text);
                break;
            case 18:
                AppendRune(text, _random.Next(32)); // C0 controls, NUL included
                AppendAsciiWord(text);
                AppendRune(text, 0x7F + _random.Next(0x21)); // DEL and C1 controls
                break;
            case 19:
                AppendAnyCodePoints(text);
                break;
            case 20:
                AppendAsciiWord(text);
                AppendRune(text, Pick(ZeroWidthAndBidi));
                AppendAsciiWord(text);
                break;
            case 21:
                AppendAsciiWord(text);
                AppendVariationSelector(text);
                break;
            case 22:
                AppendRune(text, 0xE000 + _random.Next(0x1900)); // private use
                AppendRune(text, Pick(NonCharacters));
                break;
            default:
                text.Append(_random.Next(100_000).ToString(CultureInfo.InvariantCulture));
                break;
        }

        if (LoneSurrogates && _random.Next(6) == 0)
        {
            text.Append((char)(_random.Next(2) == 0 ? 0xD800 + _random.Next(0x400) : 0xDC00 + _random.Next(0x400)));
        }
    }

    private void AppendWord(StringBuilder text, (int First, int Last)[] ranges, bool accents)
    {
        int length = 1 + _random.Next(8);
        for (int i = 0; i < length; i++)
        {
            AppendRune(text, Pick(ranges));
            if (accents && _random.Next(4) == 0)
            {
                AppendRune(text, Pick(CombiningMarks));
            }
        }
    }

    private void AppendAsciiWord(StringBuilder text) => text.Append(Pick(AsciiWords));

    private void AppendLongWord(StringBuilder text)
    {
        // Around the 100-character word limit, counted after normalization (a Hangul syllable counts 2–3).
        int length = 95 + _random.Next(40);
        (int First, int Last)[] ranges = _random.Next(3) switch { 0 => [(0x61, 0x7A)], 1 => [(0xAC00, 0xD7A3)], _ => [(0xE0, 0xFF)] };
        for (int i = 0; i < length; i++)
        {
            AppendRune(text, Pick(ranges));
        }
    }

    private void AppendEmoji(StringBuilder text)
    {
        switch (_random.Next(5))
        {
            case 0: // flag: two regional indicators
                AppendRune(text, 0x1F1E6 + _random.Next(26));
                AppendRune(text, 0x1F1E6 + _random.Next(26));
                break;
            case 1: // ZWJ sequence with a skin tone
                AppendRune(text, Pick(Emoji));
                AppendRune(text, 0x1F3FB + _random.Next(5));
                AppendRune(text, 0x200D);
                AppendRune(text, Pick(Emoji));
                break;
            case 2: // keycap
                text.Append((char)('0' + _random.Next(10)));
                AppendRune(text, 0xFE0F);
                AppendRune(text, 0x20E3);
                break;
            case 3:
                AppendRune(text, Pick(Emoji));
                AppendVariationSelector(text);
                break;
            default:
                AppendRune(text, Pick(Emoji));
                break;
        }
    }

    private void AppendVariationSelector(StringBuilder text) =>
        AppendRune(text, _random.Next(2) == 0 ? 0xFE00 + _random.Next(16) : 0xE0100 + _random.Next(240));

    private void AppendAnyCodePoints(StringBuilder text)
    {
        // Anything at all, unassigned (Cn) and newer-than-the-crate code points included; surrogates are not scalars.
        int count = 1 + _random.Next(4);
        for (int i = 0; i < count; i++)
        {
            int value = _random.Next(4) == 0 ? _random.Next(0x10000) : _random.Next(0x110000);
            AppendRune(text, value is >= 0xD800 and <= 0xDFFF ? 0xFFFD : value);
        }
    }

    private int Pick((int First, int Last)[] ranges)
    {
        (int first, int last) = ranges[_random.Next(ranges.Length)];
        return first + _random.Next(last - first + 1);
    }

    private T Pick<T>(T[] items) => items[_random.Next(items.Length)];

    private static void AppendRune(StringBuilder text, int value) => text.Append(new Rune(value).ToString());
}
