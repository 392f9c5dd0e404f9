namespace NeuralSparse.Tests;

/// <summary>
/// Locates the read-only <c>../shared</c> folder beside the repository (real bert-base-uncased vocab, tokenizer.json,
/// idf.json). CI always has it; a user's fresh clone may not, and tests that need it are then skipped with a reason.
/// </summary>
internal static class SharedData
{
    public const string SkipReason =
        "Needs ../shared/data/bert-base-uncased beside the repository (real vocab.txt, tokenizer.json, idf.json); it is absent in this checkout.";

    private static readonly Lazy<string?> Root = new(FindRoot);
    private static readonly Lazy<string> Repository = new(FindRepositoryRoot);

    /// <summary>The repository root (the folder holding global.json) above the test binaries.</summary>
    public static string RepositoryRoot => Repository.Value;

    public static bool IsAvailable => Root.Value is not null;

    public static string BertDirectory => Path.Combine(Root.Value ?? throw new InvalidOperationException(SkipReason), "data", "bert-base-uncased");

    public static string VocabTxt => Path.Combine(BertDirectory, "vocab.txt");

    public static string TokenizerJson => Path.Combine(BertDirectory, "tokenizer.json");

    public static string IdfJson => Path.Combine(BertDirectory, "idf.json");

    private static string? FindRoot()
    {
        string? overridePath = Environment.GetEnvironmentVariable("NEURAL_SPARSE_SHARED_DIR");
        if (!string.IsNullOrEmpty(overridePath))
        {
            return Directory.Exists(Path.Combine(overridePath, "data", "bert-base-uncased")) ? overridePath : null;
        }

        string candidate = Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared"));
        return Directory.Exists(Path.Combine(candidate, "data", "bert-base-uncased")) ? candidate : null;
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "global.json")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (global.json) was not found above the test binaries.");
    }
}

/// <summary>A fact that is skipped, with the reason, when <c>../shared</c> is absent.</summary>
internal sealed class SharedDataFactAttribute : FactAttribute
{
    public SharedDataFactAttribute()
    {
        if (!SharedData.IsAvailable)
        {
            Skip = SharedData.SkipReason;
        }
    }
}

/// <summary>A theory that is skipped, with the reason, when <c>../shared</c> is absent.</summary>
internal sealed class SharedDataTheoryAttribute : TheoryAttribute
{
    public SharedDataTheoryAttribute()
    {
        if (!SharedData.IsAvailable)
        {
            Skip = SharedData.SkipReason;
        }
    }
}
