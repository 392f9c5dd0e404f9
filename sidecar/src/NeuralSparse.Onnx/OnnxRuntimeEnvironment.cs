using System.Runtime.InteropServices;

namespace NeuralSparse.Onnx;

/// <summary>
/// Process-wide settings ONNX Runtime reads from the native environment before its first use. Telemetry is turned off
/// unless the operator set <c>ORT_DISABLE_TELEMETRY</c> themselves: otherwise the runtime writes a device id and a
/// small database under <c>~/.cache/Microsoft/DeveloperTools/.onnxruntime/</c>, which a read-only container has no
/// room for and a service has no reason to keep.
/// </summary>
internal static partial class OnnxRuntimeEnvironment
{
    public const string TelemetryVariable = "ORT_DISABLE_TELEMETRY";

    private static readonly Lazy<bool> Configured = new(Configure);

    /// <summary>Applies the settings once; call before anything touches ONNX Runtime.</summary>
    public static void EnsureConfigured() => _ = Configured.Value;

    private static bool Configure()
    {
        if (Environment.GetEnvironmentVariable(TelemetryVariable) is { Length: > 0 })
        {
            return true;
        }

        // On Unix, Environment.SetEnvironmentVariable changes only .NET's copy; the native library calls getenv.
        if (OperatingSystem.IsWindows())
        {
            Environment.SetEnvironmentVariable(TelemetryVariable, "1");
        }
        else
        {
            _ = SetNativeVariable(TelemetryVariable, "1", overwrite: 1); // unset or empty
            Environment.SetEnvironmentVariable(TelemetryVariable, "1");
        }

        return true;
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetNativeVariable(string name, string value, int overwrite);
}
