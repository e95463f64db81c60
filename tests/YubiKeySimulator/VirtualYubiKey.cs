namespace OfflineSigner.YubiKeySimulator;

/// <summary>A simulated YubiKey plugged into a vpcd reader slot: the card and its link, started together.</summary>
public sealed class VirtualYubiKey : IDisposable
{
    private VirtualYubiKey(PivCard card, VpcdLink link)
    {
        Card = card;
        Link = link;
    }

    public PivCard Card { get; }

    public VpcdLink Link { get; }

    public uint Serial => Card.Options.Serial;

    /// <summary>Starts a card with <paramref name="options"/> in slot <paramref name="slot"/> of <paramref name="sandbox"/>'s reader and waits until vpcd took it.</summary>
    public static VirtualYubiKey Insert(PcscdSandbox sandbox, CardOptions options, SimulatorCa? ca, int slot = 0)
    {
        ArgumentNullException.ThrowIfNull(sandbox);
        return Connect("127.0.0.1", sandbox.Port + slot, options, ca);
    }

    /// <summary>Starts a card connected to vpcd at <paramref name="host"/>:<paramref name="port"/>.</summary>
    public static VirtualYubiKey Connect(string host, int port, CardOptions options, SimulatorCa? ca)
    {
        var card = new PivCard(options, ca) { Touch = options.Touch };
        var link = new VpcdLink(card, host, port);
        var key = new VirtualYubiKey(card, link);
        if (!link.WaitConnected(TimeSpan.FromSeconds(20)))
        {
            key.Dispose();
            throw new TimeoutException($"vpcd on {host}:{port} did not accept the simulated card");
        }

        return key;
    }

    /// <summary>Pulls the key out.</summary>
    public void Remove() => Link.Remove();

    /// <summary>Puts it back and waits until vpcd took it.</summary>
    public void Reinsert()
    {
        Link.Insert();
        if (!Link.WaitConnected(TimeSpan.FromSeconds(20)))
        {
            throw new TimeoutException("vpcd did not take the reinserted card");
        }
    }

    public void Dispose() => Link.Dispose();
}
