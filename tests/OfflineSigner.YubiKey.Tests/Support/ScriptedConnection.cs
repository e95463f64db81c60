using OfflineSigner.YubiKey.Pcsc;
using Xunit;

namespace OfflineSigner.YubiKey.Tests.Support;

/// <summary>A card that expects an exact sequence of command APDUs and answers each with a scripted response.</summary>
internal sealed class ScriptedConnection : ISmartCardConnection
{
    private readonly Queue<(string Command, string Response)> _script = new();

    public string ReaderName => "scripted";

    public List<byte[]> Sent { get; } = [];

    public int Transactions { get; private set; }

    /// <summary>Expects <paramref name="command"/> (hex, spaces allowed) and answers <paramref name="response"/> (hex, SW included).</summary>
    public ScriptedConnection Expect(string command, string response)
    {
        _script.Enqueue((Hex(command), Hex(response)));
        return this;
    }

    public int Transmit(ReadOnlySpan<byte> command, Span<byte> response)
    {
        Sent.Add(command.ToArray());
        Assert.True(_script.Count > 0, "unexpected command " + Convert.ToHexString(command));
        var (expected, answer) = _script.Dequeue();
        Assert.Equal(expected, Convert.ToHexString(command));
        var bytes = Convert.FromHexString(answer);
        bytes.CopyTo(response);
        return bytes.Length;
    }

    public IDisposable BeginTransaction()
    {
        Transactions++;
        return new Ended();
    }

    public void AssertDone() => Assert.True(_script.Count == 0, $"{_script.Count} scripted commands were not sent");

    public void Dispose()
    {
    }

    public static string Hex(string text) => text.Replace(" ", string.Empty, StringComparison.Ordinal).ToUpperInvariant();

    private sealed class Ended : IDisposable
    {
        public void Dispose()
        {
        }
    }
}
