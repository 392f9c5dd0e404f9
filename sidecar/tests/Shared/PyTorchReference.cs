using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace NeuralSparse.Tests;

/// <summary>
/// Runs the PyTorch reference generator (<c>tools/reference/generate.py</c>, Debian <c>python3-torch</c>) once into a
/// git-ignored cache keyed by the scripts' hash, and reads what it wrote: hub-shaped folders, torch.onnx exports and
/// PyTorch's own float32 and float64 outputs (format in <c>tools/reference/README.md</c>).
/// </summary>
internal static class PyTorchReference
{
    public const string Python = "/usr/bin/python3";

    /// <summary>The generator's arguments besides <c>--out</c>; part of the cache key.</summary>
    private const string GeneratorArguments = "--onnx-opsets 11,14,17";

    private static readonly string[] ScriptFiles = ["architectures.py", "generate.py", "safetensors_io.py", "splade.py", "texts.json"];

    private static readonly Lazy<string?> Unavailable = new(FindSkipReason);
    private static readonly Lazy<string> Generated = new(Generate);

    /// <summary>Why the reference cannot run here, or null when it can.</summary>
    public static string? SkipReason => Unavailable.Value;

    /// <summary>The generator's output folder (index.json and the folders), generated on first use.</summary>
    public static string Directory => Generated.Value;

    /// <summary>How long generation took in this process (0 when the cache was reused).</summary>
    public static TimeSpan GenerationTime { get; private set; }

    public static string ScriptDirectory => Path.Combine(SharedData.RepositoryRoot, "tools", "reference");

    /// <summary>SHA-256 over each script's name, a NUL, its bytes and a NUL, as generate.py's <c>script_sha256</c>.</summary>
    public static string ScriptHash()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (string name in ScriptFiles)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(name));
            hash.AppendData([0]);
            hash.AppendData(File.ReadAllBytes(Path.Combine(ScriptDirectory, name)));
            hash.AppendData([0]);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    public static ReferenceIndex ReadIndex() => Read<ReferenceIndex>(Path.Combine(Directory, "index.json"));

    public static ReferenceOutputs ReadOutputs(string referenceFile) => Read<ReferenceOutputs>(Path.Combine(Directory, referenceFile));

    private static T Read<T>(string path) =>
        JsonSerializer.Deserialize<T>(File.ReadAllText(path), JsonOptions) ?? throw new InvalidDataException($"{path} is empty.");

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private static string? FindSkipReason()
    {
        if (!SharedData.IsAvailable)
        {
            return SharedData.SkipReason;
        }

        if (!File.Exists(Python))
        {
            return $"The PyTorch reference needs Debian's {Python} with python3-torch, python3-onnx and python3-numpy (apt-get install -y python3-torch python3-onnx python3-numpy); {Python} is absent.";
        }

        (int code, string output) = Run(Python, ["-c", "import torch, onnx, numpy"], TimeSpan.FromMinutes(1));
        return code == 0
            ? null
            : $"The PyTorch reference needs python3-torch, python3-onnx and python3-numpy in {Python} (apt-get install -y python3-torch python3-onnx python3-numpy): {output.Trim().Split('\n')[^1]}";
    }

    private static string Generate()
    {
        if (SkipReason is { } reason)
        {
            throw new InvalidOperationException(reason);
        }

        string key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ScriptHash() + "\n" + GeneratorArguments)))[..16];
        string target = Path.Combine(ScriptDirectory, ".cache", "ci-" + key);
        if (File.Exists(Path.Combine(target, "index.json")))
        {
            return target;
        }

        // Generate beside the target and move it in whole, so parallel test processes never see a half-written cache.
        string temporary = target + ".tmp-" + Guid.NewGuid().ToString("N");
        var watch = Stopwatch.StartNew();
        string[] arguments = [Path.Combine(ScriptDirectory, "generate.py"), "--out", temporary, "--tokenizer-dir", SharedData.BertDirectory, .. GeneratorArguments.Split(' ')];
        (int code, string output) = Run(Python, arguments, TimeSpan.FromMinutes(10));
        if (code != 0)
        {
            throw new InvalidOperationException($"{Python} {string.Join(' ', arguments)} failed with exit code {code}:\n{output}");
        }

        try
        {
            System.IO.Directory.Move(temporary, target);
        }
        catch (IOException) when (File.Exists(Path.Combine(target, "index.json")))
        {
            System.IO.Directory.Delete(temporary, recursive: true); // another process won the race
        }

        GenerationTime = watch.Elapsed;
        return target;
    }

    private static (int Code, string Output) Run(string fileName, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"{fileName} did not start.");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"timed out after {timeout}");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}

/// <summary>index.json of a generator run.</summary>
internal sealed record ReferenceIndex(string Format, string ScriptSha256, string Torch, string Size, IReadOnlyList<ReferenceFolder> Folders, IReadOnlyList<ReferenceOnnx> Onnx);

internal sealed record ReferenceFolder(
    string Name, string Path, string Architecture, string ModelType, string Mode, string Activation, int MaxLength, bool TakesTokenTypeIds, string? Reference);

internal sealed record ReferenceOnnx(string Name, string Path, int Opset, string Folder, string? Reference);

/// <summary>&lt;name&gt;.reference.json: PyTorch's outputs for one folder's weights.</summary>
internal sealed record ReferenceOutputs(
    string Model, string Architecture, string Mode, string Activation, int VocabSize, int MaxLength, string? IdsSource,
    IReadOnlyDictionary<string, double> F32VsF64MaxAbs, IReadOnlyList<ReferenceText> Texts);

internal sealed record ReferenceText(
    string Name, string Text, int[] Ids, int TruncatedFrom, IReadOnlyDictionary<string, ReferenceWeights> Document, ReferenceQuery IdfQuery,
    IReadOnlyDictionary<string, double> F32VsF64MaxAbs);

/// <summary>Pooled weights at <see cref="TokenIds"/> from the float32 and the float64 forward (0 where that one gave 0).</summary>
internal sealed record ReferenceWeights(int[] TokenIds, double[] F32, double[] F64);

internal sealed record ReferenceQuery(int[] TokenIds, double[] Weights);

/// <summary>A fact that is skipped, with the reason, where Debian's PyTorch (or ../shared) is absent.</summary>
internal sealed class PyTorchReferenceFactAttribute : FactAttribute
{
    public PyTorchReferenceFactAttribute()
    {
        if (PyTorchReference.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>A theory that is skipped, with the reason, where Debian's PyTorch (or ../shared) is absent.</summary>
internal sealed class PyTorchReferenceTheoryAttribute : TheoryAttribute
{
    public PyTorchReferenceTheoryAttribute()
    {
        if (PyTorchReference.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}
