namespace NeuralSparse.Client.Transport;

/// <summary>
/// Round-robin over the cluster's nodes. A node that fails is skipped until its back-off passes (doubling per
/// consecutive failure, capped at 5 minutes); when every node is dead the one due back soonest is tried anyway.
/// </summary>
internal sealed class NodePool(IReadOnlyList<Uri> nodes, TimeSpan backoff, TimeProvider time)
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(5);
    private readonly NodeState[] _nodes = [.. nodes.Select(n => new NodeState(n))];
    private int _next = -1;

    public Uri Next()
    {
        DateTimeOffset now = time.GetUtcNow();
        lock (_nodes)
        {
            for (int i = 0; i < _nodes.Length; i++)
            {
                _next = (_next + 1) % _nodes.Length;
                if (_nodes[_next].DeadUntil <= now)
                {
                    return _nodes[_next].Uri;
                }
            }

            return _nodes.MinBy(n => n.DeadUntil)!.Uri;
        }
    }

    public void MarkDead(Uri node)
    {
        lock (_nodes)
        {
            NodeState state = _nodes.First(n => n.Uri == node);
            state.Failures++;
            TimeSpan delay = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * (1L << Math.Min(state.Failures - 1, 20))));
            state.DeadUntil = time.GetUtcNow() + delay;
        }
    }

    public void MarkAlive(Uri node)
    {
        lock (_nodes)
        {
            NodeState state = _nodes.First(n => n.Uri == node);
            state.Failures = 0;
            state.DeadUntil = DateTimeOffset.MinValue;
        }
    }

    private sealed class NodeState(Uri uri)
    {
        public Uri Uri { get; } = uri;

        public int Failures { get; set; }

        public DateTimeOffset DeadUntil { get; set; } = DateTimeOffset.MinValue;
    }
}
