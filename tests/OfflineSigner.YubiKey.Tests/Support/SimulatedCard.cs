using System.Security.Cryptography;
using OfflineSigner.Tests.Shared;
using OfflineSigner.YubiKey.Pcsc;
using OfflineSigner.YubiKey.Piv;
using OfflineSigner.YubiKeySimulator;
using Xunit;

namespace OfflineSigner.YubiKey.Tests.Support;

/// <summary>
/// Tests that use this process's pcscd run one at a time (see <see cref="PcscRig"/>: libpcsclite binds a process to
/// one pcscd socket, and ykcs11 in this process sees every card in it).
/// </summary>
[CollectionDefinition(SimulatedCard.Collection, DisableParallelization = true)]
public sealed class PcscdTests
{
}

/// <summary>A fresh simulated YubiKey in this process's pcscd, with its own attestation CA, removed on dispose.</summary>
internal sealed class SimulatedCard : IDisposable
{
    public const string Collection = "pcscd";

    private readonly bool _ownsCa;

    private SimulatedCard(VirtualYubiKey key, SimulatorCa ca, bool ownsCa, int slot, TempDir directory)
    {
        Key = key;
        Ca = ca;
        _ownsCa = ownsCa;
        ReaderName = PcscRig.ReaderName(slot);
        Directory = directory;
    }

    public VirtualYubiKey Key { get; }

    public PivCard Card => Key.Card;

    public SimulatorCa Ca { get; }

    public uint Serial => Key.Serial;

    public string ReaderName { get; }

    /// <summary>A folder for the test's files (removed with the card).</summary>
    public TempDir Directory { get; }

    /// <summary>The environment that points child processes at this process's pcscd.</summary>
    public static IDictionary<string, string?> Environment => PcscRig.ClientEnvironment;

    /// <summary>
    /// Inserts a card (a random serial unless <paramref name="options"/> names one) into vpcd slot
    /// <paramref name="slot"/>; skips the test when pcscd cannot run on this machine.
    /// </summary>
    public static SimulatedCard Insert(CardOptions? options = null, int slot = 0, SimulatorCa? ca = null)
    {
        try
        {
            _ = PcscRig.Sandbox;
        }
        catch (PcscdUnavailableException e)
        {
            Assert.Skip("pcscd with the vpcd reader cannot run here: " + e.Message);
        }

        var directory = TestEnvironment.CreateTempDir("yubikey");
        var ownsCa = ca is null;
        ca ??= SimulatorCa.Create();
        options ??= new CardOptions();
        if (options.Serial == new CardOptions().Serial)
        {
            options = options with { Serial = (uint)RandomNumberGenerator.GetInt32(10_000_000, 99_999_999) };
        }

        var key = PcscRig.Insert(options, ca, slot);
        var card = new SimulatedCard(key, ca, ownsCa, slot, directory);
        card.WaitPresent();
        return card;
    }

    /// <summary>Waits until pcscd lets a client connect to the card.</summary>
    public void WaitPresent()
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                using var context = PcscContext.Establish();
                if (context.ListReaders().Contains(ReaderName))
                {
                    using var connection = context.Connect(ReaderName, exclusive: false);
                    return;
                }
            }
            catch (YubiKeyException) when (DateTime.UtcNow < deadline)
            {
            }

            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"the simulated card in {ReaderName} did not become usable");
            }

            Thread.Sleep(50);
        }
    }

    /// <summary>A PIV session on the card through pcscd.</summary>
    public PivSession OpenSession()
    {
        var context = PcscContext.Establish();
        try
        {
            return PivSession.Open(new ContextOwningConnection(context, context.Connect(ReaderName, exclusive: true)));
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>The root certificate of the card's attestation CA, as a PEM file.</summary>
    public string WriteRootPem()
    {
        var path = Path.Combine(Directory.Path, "simulator-root.pem");
        File.WriteAllText(path, Ca.CertificatePem);
        return path;
    }

    public void Dispose()
    {
        Key.Dispose();
        if (_ownsCa)
        {
            Ca.Dispose();
        }

        Directory.Dispose();
    }

    /// <summary>A connection that also closes the context it was made in.</summary>
    private sealed class ContextOwningConnection(PcscContext context, PcscConnection inner) : ISmartCardConnection
    {
        public string ReaderName => inner.ReaderName;

        public int Transmit(ReadOnlySpan<byte> command, Span<byte> response) => inner.Transmit(command, response);

        public IDisposable BeginTransaction() => inner.BeginTransaction();

        public void Dispose()
        {
            inner.Dispose();
            context.Dispose();
        }
    }
}

/// <summary>Yubico's own clients from Debian, pointed at the card's reader in this process's pcscd.</summary>
internal static class YubicoTools
{
    public static ProcessResult PivTool(SimulatedCard card, params string[] arguments)
    {
        var tool = TestEnvironment.RequireTool("yubico-piv-tool", "Debian package yubico-piv-tool");
        return ProcessRunner.Run(tool, ["-r", card.ReaderName, .. arguments], TimeSpan.FromMinutes(2), SimulatedCard.Environment, card.Directory.Path);
    }

    public static ProcessResult Ykman(SimulatedCard card, params string[] arguments)
    {
        var tool = TestEnvironment.RequireTool("ykman", "Debian package yubikey-manager");
        return ProcessRunner.Run(tool, ["--reader", card.ReaderName, .. arguments], TimeSpan.FromMinutes(2), SimulatedCard.Environment, card.Directory.Path);
    }

    /// <summary>Runs a tool and fails the test with its output unless it exits 0.</summary>
    public static string Ok(ProcessResult result)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        return result.StdOut + result.StdErr;
    }

    /// <summary>python3-cryptography's reading of a certificate file.</summary>
    public static System.Text.Json.JsonElement CertificateInfo(string path)
    {
        var python = TestEnvironment.RequirePythonModule("cryptography", "python3-cryptography");
        var script = Path.Combine(AppContext.BaseDirectory, "peers", "certificate_info.py");
        var result = ProcessRunner.Run(python, [script, path]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return System.Text.Json.JsonDocument.Parse(result.StdOut).RootElement.Clone();
    }

    /// <summary>python3-cryptography's verdict on a signature.</summary>
    public static ProcessResult VerifySignature(string algorithm, ReadOnlySpan<byte> spki, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        var python = TestEnvironment.RequirePythonModule("cryptography", "python3-cryptography");
        var script = Path.Combine(AppContext.BaseDirectory, "peers", "verify_signature.py");
        return ProcessRunner.Run(python, [script, algorithm, Convert.ToHexString(spki), Convert.ToHexString(message), Convert.ToHexString(signature)]);
    }

    /// <summary>The DER inside a PEM file of one block.</summary>
    public static byte[] PemBody(string path)
    {
        var text = File.ReadAllText(path);
        var fields = PemEncoding.Find(text);
        return Convert.FromBase64String(text[fields.Base64Data]);
    }
}
