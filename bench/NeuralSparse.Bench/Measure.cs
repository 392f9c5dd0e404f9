using System.Diagnostics;

namespace NeuralSparse.Bench;

/// <summary>Wall-clock timing: warm-up, then repeat until a minimum time has passed; reports the median run.</summary>
internal static class Measure
{
    public static double MedianSeconds(Action action, double minSeconds, int minRuns = 3, int maxRuns = 200)
    {
        action(); // warm-up: JIT, ORT arena growth, caches
        var runs = new List<double>();
        var total = Stopwatch.StartNew();
        while (runs.Count < maxRuns && (runs.Count < minRuns || total.Elapsed.TotalSeconds < minSeconds))
        {
            long start = Stopwatch.GetTimestamp();
            action();
            runs.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);

            // One slow run (a real-shape model at batch 32) is enough once the time budget is spent.
            if (total.Elapsed.TotalSeconds > minSeconds * 4)
            {
                break;
            }
        }

        runs.Sort();
        return runs[runs.Count / 2];
    }
}
