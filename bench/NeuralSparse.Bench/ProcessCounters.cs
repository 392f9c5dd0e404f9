using System.Globalization;
using NeuralSparse.Sidecar.IntegrationTests;

namespace NeuralSparse.Bench;

/// <summary>This process's page faults and peak resident memory, from /proc (Linux); zero elsewhere.</summary>
internal static class ProcessCounters
{
    /// <summary>Minor page faults so far: field 10 of /proc/self/stat, counted after the command name's closing parenthesis.</summary>
    public static long MinorFaults()
    {
        if (!File.Exists("/proc/self/stat"))
        {
            return 0;
        }

        string stat = File.ReadAllText("/proc/self/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7], CultureInfo.InvariantCulture);
    }

    /// <summary>Peak resident set size (VmHWM) in MiB.</summary>
    public static double PeakResidentMegabytes() => SidecarProcess.PeakResidentMegabytesOf("/proc/self/status") ?? 0;
}
