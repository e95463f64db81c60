using OfflineSigner.YubiKey.Pcsc;
using OfflineSigner.YubiKey.Piv;

namespace OfflineSigner.YubiKey;

/// <summary>A YubiKey seen in a reader.</summary>
public sealed record YubiKeyInfo(uint Serial, FirmwareVersion Firmware, string ReaderName);

/// <summary>A reader whose card could not be read (in use by another program, not a PIV card, no serial).</summary>
public sealed record UnreadableReader(string ReaderName, string Reason);

/// <summary>Finds YubiKeys by serial among the readers pcscd knows.</summary>
public static class YubiKeyDevices
{
    /// <summary>The YubiKeys present now (firmware 5 and later: older devices do not give their serial over PIV).</summary>
    public static IReadOnlyList<YubiKeyInfo> List() => Scan(out _);

    /// <summary>As <see cref="List()"/>, and the readers whose card could not be read, with the reason.</summary>
    public static IReadOnlyList<YubiKeyInfo> List(out IReadOnlyList<UnreadableReader> unreadable) => Scan(out unreadable);

    /// <summary>
    /// Opens a session with the YubiKey whose serial is <paramref name="serial"/>: the card is held exclusively until
    /// the device is disposed. Every other card is left as it was.
    /// </summary>
    /// <exception cref="YubiKeyNotPresentException">no inserted YubiKey has that serial (the message names those that are inserted).</exception>
    public static YubiKeyDevice Open(uint serial, string? holder = null)
    {
        var context = PcscContext.Establish();
        try
        {
            var present = new List<uint>();
            var notes = new List<string>();
            foreach (var reader in context.ListReaders())
            {
                PcscConnection? connection = null;
                PivSession? session = null;
                try
                {
                    connection = context.Connect(reader, exclusive: true);
                    session = PivSession.Open(connection, ownsConnection: false);
                    if (session.Serial == serial)
                    {
                        var device = new YubiKeyDevice(context, connection, session, holder);
                        (connection, session, context) = (null, null, null!);
                        return device;
                    }

                    if (session.Serial is { } other)
                    {
                        present.Add(other);
                    }

                    connection.LeaveCardOnClose();
                }
                catch (Exception e) when (e is YubiKeyNotPresentException or YubiKeyRemovedException)
                {
                    // An empty reader, or a card on its way out.
                }
                catch (YubiKeyException e)
                {
                    connection?.LeaveCardOnClose();
                    notes.Add($"{reader}: {e.Message}");
                }
                finally
                {
                    session?.Dispose();
                    connection?.Dispose();
                }
            }

            throw new YubiKeyNotPresentException(serial, present, NotPresentMessage(serial, holder, present, notes));
        }
        finally
        {
            context?.Dispose();
        }
    }

    /// <summary>
    /// Opens the YubiKey <paramref name="serial"/>, waiting up to <paramref name="timeout"/> for it to be inserted. While
    /// it is missing, <paramref name="prompt"/> is told (once for each change of what is inserted) what to ask the operator.
    /// </summary>
    public static YubiKeyDevice WaitAndOpen(uint serial, string? holder, TimeSpan timeout, Action<string>? prompt)
    {
        var deadline = DateTime.UtcNow + timeout;
        string? last = null;
        while (true)
        {
            try
            {
                return Open(serial, holder);
            }
            catch (YubiKeyNotPresentException e)
            {
                // The operator is told even when there is no time to wait: the request then fails with the same words.
                if (e.Message != last)
                {
                    prompt?.Invoke(e.Message);
                    last = e.Message;
                }

                if (DateTime.UtcNow >= deadline)
                {
                    throw;
                }
            }

            using var context = PcscContext.Establish();
            var remaining = deadline - DateTime.UtcNow;
            if (remaining > TimeSpan.Zero)
            {
                context.WaitForChange(context.ListReaders(), remaining < TimeSpan.FromSeconds(1) ? remaining : TimeSpan.FromSeconds(1));
            }
        }
    }

    /// <summary>What to tell the operator when <paramref name="serial"/> is missing.</summary>
    internal static string NotPresentMessage(uint serial, string? holder, IReadOnlyList<uint> present, IReadOnlyList<string>? notes = null)
    {
        var who = holder is { Length: > 0 } ? $"{holder}'s YubiKey" : "the YubiKey";
        var inserted = present.Count == 0
            ? "no YubiKey is inserted"
            : $"inserted: YubiKey serial {string.Join(", ", present)}" + (present.Count == 1 ? ", which is not the right one" : string.Empty);
        var extra = notes is { Count: > 0 } ? $" ({string.Join("; ", notes)})" : string.Empty;
        return $"insert {who} with serial {serial}: {inserted}{extra}";
    }

    private static List<YubiKeyInfo> Scan(out IReadOnlyList<UnreadableReader> unreadable)
    {
        var found = new List<YubiKeyInfo>();
        var problems = new List<UnreadableReader>();
        using var context = PcscContext.Establish();
        foreach (var reader in context.ListReaders())
        {
            PcscConnection? connection = null;
            try
            {
                connection = context.Connect(reader, exclusive: false);
                connection.LeaveCardOnClose();
                using var session = PivSession.Open(connection, ownsConnection: false);
                if (session.Serial is { } serial)
                {
                    found.Add(new YubiKeyInfo(serial, session.Version, reader));
                }
                else
                {
                    problems.Add(new UnreadableReader(reader, $"firmware {session.Version} does not give its serial over PIV"));
                }
            }
            catch (Exception e) when (e is YubiKeyNotPresentException or YubiKeyRemovedException)
            {
                // An empty reader, or a card on its way out.
            }
            catch (YubiKeyException e)
            {
                problems.Add(new UnreadableReader(reader, e.Message));
            }
            finally
            {
                connection?.Dispose();
            }
        }

        unreadable = problems;
        return found;
    }
}
