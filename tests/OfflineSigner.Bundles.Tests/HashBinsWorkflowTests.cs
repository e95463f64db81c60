using System.Text.Json;
using OfflineSigner.Audit;
using OfflineSigner.Bundles.Tests.Support;
using OfflineSigner.Cli.Repositories;
using OfflineSigner.Daemon.Tests.Support;
using Xunit;

namespace OfflineSigner.Bundles.Tests;

/// <summary>
/// Hash bins (TAP 15) end to end: 1,024 bins, so that one key's roles go to the daemon in several batches, each
/// signed while the CLI checks and writes the one before.
/// </summary>
public sealed class HashBinsWorkflowTests(SoftHsm hsm)
{
    private const int Bits = 10;

    [Fact]
    public void A_thousand_bins_are_signed_in_batches_imported_and_signed_again()
    {
        using var w = new Workflow(hsm);
        var repo = w.Path("repo");
        w.CreateTufRepository(repo, ["root-a"], 1, "targets-1");
        w.Generate("bins");
        var create = w.Path("create-bins");
        w.Ok("export", "--repo", repo, "--hash-bins", Bits.ToString(System.Globalization.CultureInfo.InvariantCulture), "--add-key", w.PublicKeyFile("bins"), "--out", create);
        // After targets' key only targets is ready; after the bins' key, every item.
        var first = w.OkWithPin("sign", "--bundle", create, "--key", w.KeyUri("targets-1"), "--yes", "--signer", "targets-1", "--json");
        using (var doc = JsonDocument.Parse(first.StdOut))
        {
            Assert.Equal(1, doc.RootElement.GetProperty("signed").GetInt32());
            Assert.Equal(1, doc.RootElement.GetProperty("ready_items").GetInt32());
            Assert.Equal((1 << Bits) + 1, doc.RootElement.GetProperty("items").GetInt32());
        }

        var signed = w.OkWithPin("sign", "--bundle", create, "--key", w.KeyUri("bins"), "--yes", "--signer", "bins", "--json");
        using (var doc = JsonDocument.Parse(signed.StdOut))
        {
            Assert.Equal(1 << Bits, doc.RootElement.GetProperty("signed").GetInt32());
            Assert.Equal((1 << Bits) + 1, doc.RootElement.GetProperty("ready_items").GetInt32());
        }

        // Two files changed deep in the bundle (checked on every core): the first in the manifest's order is named,
        // and nothing is written.
        var before = Workflow.TreeHash(repo);
        var tampered = w.Path("tampered");
        Workflow.CopyTree(create, tampered);
        foreach (var item in new[] { "00700", "00300" })
        {
            var file = Path.Combine(tampered, "items", item + ".json");
            File.WriteAllText(file, File.ReadAllText(file).Replace("\"version\":1", "\"version\":9", StringComparison.Ordinal));
        }

        var refused = w.Cli("import", "--bundle", tampered, "--repo", repo, "--online-key", w.OnlineKey);
        Assert.True(refused.ExitCode != 0, refused.ToString());
        Assert.Contains("items/00300.json has SHA-256", refused.StdErr, StringComparison.Ordinal);
        Assert.Equal(before, Workflow.TreeHash(repo));

        w.Ok("import", "--bundle", create, "--repo", repo, "--online-key", w.OnlineKey);
        var state = TufRepository.Load(repo).State;
        Assert.Equal(1 << Bits, state.Delegated.Count);
        Assert.All(state.Delegated.Values, d => Assert.Equal(1, d.Signed.Version));

        // Routine re-signing of every bin: version 2 of each, one audit entry per bin for each signing.
        var resign = w.Path("resign");
        w.Ok("export", "--repo", repo, "--all-delegated", "--out", resign);
        w.Sign(resign, "bins");
        w.Ok("import", "--bundle", resign, "--repo", repo, "--online-key", w.OnlineKey);
        state = TufRepository.Load(repo).State;
        Assert.All(state.Delegated.Values, d => Assert.Equal(2, d.Signed.Version));

        var log = File.ReadAllBytes(w.Daemon.AuditLogPath);
        Assert.True(AuditLogVerifier.Verify(log).Ok, "the audit log does not verify");
        var signedBins = System.Text.Encoding.UTF8.GetString(log).Split('\n')
            .Count(l => l.Contains("\"signed\"", StringComparison.Ordinal) && l.Contains("\"role\":\"bins-", StringComparison.Ordinal));
        Assert.Equal(2 << Bits, signedBins);
    }
}
