using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace NeuralSparse.Sidecar.IntegrationTests;

/// <summary>The built sidecar running as a separate process on loopback ports.</summary>
internal sealed partial class SidecarProcess : IAsyncDisposable
{
    private const int SigTerm = 15;
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private SidecarProcess(Process process, int httpPort, int grpcPort)
    {
        _process = process;
        HttpPort = httpPort;
        GrpcPort = grpcPort;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(60) };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int HttpPort { get; }

    public int GrpcPort { get; }

    public HttpClient Http { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    public int ProcessId => _process.Id;

    /// <summary>Peak resident memory of the process so far (VmHWM), in MiB; null where /proc is unavailable.</summary>
    public long? PeakResidentMegabytes => (long?)PeakResidentMegabytesOf($"/proc/{_process.Id}/status");

    /// <summary>VmHWM of a <c>/proc/PID/status</c> file, in MiB; null where the file or the line is missing.</summary>
    public static double? PeakResidentMegabytesOf(string statusFile)
    {
        string? line = File.Exists(statusFile) ? File.ReadLines(statusFile).FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)) : null;
        // "VmHWM:\t  487000 kB": a tab after the colon, and no space at all once the value has 8 digits (≥ 9.5 GiB).
        return line is null ? null : long.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
    }

    public static string RepositoryRoot
    {
        get
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

    /// <summary>
    /// Starts the sidecar with <paramref name="args"/> (and extra <paramref name="environment"/> variables, such as
    /// .NET runtime settings) on two free ports; waits for readiness unless told not to.
    /// </summary>
    public static async Task<SidecarProcess> StartAsync(
        IEnumerable<string> args, bool waitUntilReady = true, IReadOnlyDictionary<string, string>? environment = null)
    {
        int httpPort = FreePort();
        int grpcPort = FreePort();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        start.ArgumentList.Add(SidecarAssembly());
        foreach (string arg in args.Concat(["--http-port", httpPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--grpc-port", grpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            start.ArgumentList.Add(arg);
        }

        var sidecar = new SidecarProcess(Process.Start(start)!, httpPort, grpcPort);
        if (waitUntilReady)
        {
            await sidecar.WaitUntilReadyAsync(TimeSpan.FromSeconds(90));
        }

        return sidecar;
    }

    public async Task WaitUntilReadyAsync(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The sidecar exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                if ((await Http.GetAsync(new Uri("/health/ready", UriKind.Relative))).StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"The sidecar was not ready after {timeout}:\n{Output}");
    }

    /// <summary>Sends SIGTERM (what Kubernetes sends) and waits for the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            Kill(_process.Id, SigTerm);
        }

        return await WaitForExitAsync(timeout);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancellation.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        Http.Dispose();
        _process.Dispose();
    }

    private static string SidecarAssembly()
    {
        // The sidecar built like these tests: the same path under its own project's folder as this assembly has under
        // its own (bin/<Configuration>/net10.0/, or bin/gpu/... for the Gpu flavor).
        var bin = new DirectoryInfo(AppContext.BaseDirectory);
        while (bin.Name != "bin")
        {
            bin = bin.Parent ?? throw new InvalidOperationException("The tests do not run from a bin folder.");
        }

        string relative = Path.GetRelativePath(bin.Parent!.FullName, AppContext.BaseDirectory);
        string path = Path.Combine(RepositoryRoot, "sidecar", "src", "NeuralSparse.Sidecar", relative, "NeuralSparse.Sidecar.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("Build the sidecar first (dotnet build).", path);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
