using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace OfflineSigner.Cli.Workflow;

/// <summary>The operator said no (or could not be asked).</summary>
internal sealed class DeclinedException(string message) : OfflineSignerException(message);

/// <summary>
/// What the operator is asked: confirmation, PINs (typed without echo, or read from a file descriptor a script
/// passes), and device prompts (insert, touch). PINs are bytes in a buffer the caller wipes, never a string.
/// </summary>
internal sealed class OperatorConsole(bool assumeYes, int? pinFd, bool quiet)
{
    private List<byte[]>? fdPins;
    private int nextPin;

    public bool Quiet => quiet;

    /// <summary>Asks "yes" to go on; --yes answers it for scripts.</summary>
    public void Confirm(string question)
    {
        if (assumeYes)
        {
            return;
        }

        if (Console.IsInputRedirected)
        {
            throw new DeclinedException($"declined: '{question}' needs an answer on a terminal; pass --yes to confirm from a script");
        }

        Console.Error.Write(question + " Type 'yes' to go on: ");
        var answer = Console.ReadLine();
        if (!string.Equals(answer?.Trim(), "yes", StringComparison.Ordinal))
        {
            throw new DeclinedException("declined: nothing was signed");
        }
    }

    /// <summary>
    /// The PIN for <paramref name="what"/>, as a new byte array the caller wipes: the next line from --pin-fd (the
    /// last line again when there are fewer lines than keys), else typed on the terminal without echo.
    /// </summary>
    public byte[] ReadPin(string what)
    {
        if (pinFd is int fd)
        {
            fdPins ??= ReadPinLines(fd);
            if (fdPins.Count == 0)
            {
                throw new OfflineSignerException($"--pin-fd {fd}: no PIN was given on the descriptor");
            }

            var pin = fdPins[Math.Min(nextPin++, fdPins.Count - 1)];
            return (byte[])pin.Clone();
        }

        if (Console.IsInputRedirected)
        {
            throw new OfflineSignerException($"the PIN for {what} must be typed on a terminal, or passed on a file descriptor with --pin-fd N (for example --pin-fd 3 3<pinfile)");
        }

        Console.Error.Write($"PIN for {what}: ");
        var buffer = new byte[256];
        var length = 0;
        Span<byte> utf8 = stackalloc byte[4];
        try
        {
            while (true)
            {
                var key = Console.ReadKey(intercept: true);
                if (key.Key == ConsoleKey.Enter)
                {
                    break;
                }

                if (key.Key == ConsoleKey.Backspace)
                {
                    if (length > 0)
                    {
                        buffer[--length] = 0;
                    }

                    continue;
                }

                var c = key.KeyChar;
                var n = Encoding.UTF8.GetBytes([c], utf8);
                if (length + n > buffer.Length)
                {
                    throw new OfflineSignerException("the PIN is longer than 256 bytes");
                }

                utf8[..n].CopyTo(buffer.AsSpan(length));
                utf8.Clear();
                length += n;
            }

            Console.Error.WriteLine();
            return buffer.AsSpan(0, length).ToArray();
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer);
        }
    }

    /// <summary>Shown before a signature on a device that waits for a touch.</summary>
    public static void TouchPrompt(string keyUri, string? serial)
    {
        if (keyUri.StartsWith("yubikey:", StringComparison.Ordinal))
        {
            Console.Error.WriteLine($"Touch the YubiKey{(string.IsNullOrEmpty(serial) ? string.Empty : " with serial " + serial)} when it blinks (it waits 15 s).");
        }
    }

    public void Info(string line)
    {
        if (!quiet)
        {
            Console.Error.WriteLine(line);
        }
    }

    /// <summary>A line of progress for long work (every 5% and at the end), on stderr.</summary>
    public IProgress<int> Progress(string what, int total)
    {
        var step = Math.Max(1, total / 20);
        return new SyncProgress(n =>
        {
            if (!quiet && total >= 50 && (n % step == 0 || n == total))
            {
                Console.Error.WriteLine($"{what}: {n}/{total}");
            }
        });
    }

    public void Wipe()
    {
        foreach (var p in fdPins ?? [])
        {
            CryptographicOperations.ZeroMemory(p);
        }
    }

    private static List<byte[]> ReadPinLines(int fd)
    {
        using var handle = new SafeFileHandle((IntPtr)fd, ownsHandle: false);
        using var stream = new FileStream(handle, FileAccess.Read, 1);
        var buffer = new byte[4096];
        var length = 0;
        try
        {
            int n;
            while (length < buffer.Length && (n = stream.Read(buffer, length, buffer.Length - length)) > 0)
            {
                length += n;
            }

            var pins = new List<byte[]>();
            var start = 0;
            for (var i = 0; i <= length; i++)
            {
                if (i == length || buffer[i] == (byte)'\n')
                {
                    var end = i > start && buffer[i - 1] == (byte)'\r' ? i - 1 : i;
                    if (end > start)
                    {
                        pins.Add(buffer.AsSpan(start, end - start).ToArray());
                    }

                    start = i + 1;
                }
            }

            return pins;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer);
        }
    }

    private sealed class SyncProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
