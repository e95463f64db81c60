using System.Diagnostics;
using OfflineSigner.Bundles.Tests.Support;
using OfflineSigner.Cli.Repositories;
using OfflineSigner.Daemon.Tests.Support;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Bundles.Tests;

/// <summary>
/// SIGKILL at random points of an import, 100 times and more: the repository is each time either the old one or the
/// new one, and verifies as a whole (root chain, timestamp, snapshot, targets, every delegated role).
/// </summary>
public sealed class ImportKillLoopTests(SoftHsm hsm)
{
    private const int Kills = 100;

    [Fact]
    public void Killing_import_at_random_points_never_leaves_a_repository_that_fails_verification()
    {
        using var w = new Workflow(hsm);
        var repo = w.Path("repo");
        w.CreateTufRepository(repo, ["root-a"], 1, "targets-1");

        // 40 delegations, so that an import writes enough files for kills to land inside the commit.
        w.Generate("bins");
        var binsKey = w.PublicKeyFile("bins");
        var create = w.Path("create-delegations");
        var args = new List<string> { "export", "--repo", repo, "--role", "targets", "--add-key", binsKey, "--out", create };
        for (var i = 0; i < 40; i++)
        {
            args.AddRange(["--delegation", $"bin-{i:D2}"]);
        }

        w.Ok([.. args]);
        w.Sign(create, "targets-1");
        w.Sign(create, "bins");
        w.Ok("import", "--bundle", create, "--repo", repo, "--online-key", w.OnlineKey);

        var bundle = w.Path("resign-all");
        w.Ok("export", "--repo", repo, "--role", "targets", "--all-delegated", "--out", bundle);
        w.Sign(bundle, "targets-1");
        w.Sign(bundle, "bins");

        var pristine = w.Path("pristine");
        Workflow.CopyTree(repo, pristine);
        var oldTimestamp = TufRepository.Load(repo).State.Timestamp!.Signed.Version;

        // One full import on a copy gives the window to aim at.
        var probe = w.Path("probe");
        Workflow.CopyTree(pristine, probe);
        var clock = Stopwatch.StartNew();
        var full = w.Cli("import", "--bundle", bundle, "--repo", probe, "--online-key", w.OnlineKey);
        var fullTime = clock.Elapsed;
        Assert.True(full.ExitCode == 0, full.ToString());
        var newTimestamp = TufRepository.Load(probe).State.Timestamp!.Signed.Version;
        Assert.Equal(oldTimestamp + 1, newTimestamp);

        // Kill until 100 kills have hit a running import (at most 300 tries); delays aim inside the fastest import seen,
        // which changes with the machine's load, so every completed run narrows the window.
        var random = new Random(5);
        var estimate = fullTime;
        int oldStates = 0, newStates = 0, killedRunning = 0, stagingLeft = 0, tries = 0;
        while (killedRunning < Kills && tries++ < 3 * Kills)
        {
            var delay = TimeSpan.FromMilliseconds(estimate.TotalMilliseconds * (0.2 + (0.75 * random.NextDouble())));
            var started = Stopwatch.StartNew();
            using (var p = StartImport(w, bundle, repo))
            {
                if (!p.WaitForExit(delay))
                {
                    p.Kill();
                    killedRunning++;
                }
                else if (started.Elapsed < estimate)
                {
                    estimate = started.Elapsed;
                }

                p.WaitForExit();
            }

            stagingLeft += Directory.EnumerateDirectories(repo, ".metadata.staging.*").Any() ? 1 : 0;

            // What a client or the next import finds: a repository that verifies, old or new, never a mixture.
            var state = TufRepository.Load(repo).State;
            var ts = state.Timestamp!.Signed.Version;
            Assert.True(ts == oldTimestamp || ts == newTimestamp, $"try {tries}: timestamp version {ts}");
            Assert.Equal(41, state.Delegated.Count + 1);
            if (ts == newTimestamp)
            {
                newStates++;
                Assert.All(state.Delegated.Values, d => Assert.Equal(2, d.Signed.Version));
                Directory.Delete(repo, recursive: true);
                Workflow.CopyTree(pristine, repo);
            }
            else
            {
                oldStates++;
                Assert.All(state.Delegated.Values, d => Assert.Equal(1, d.Signed.Version));
            }
        }

        // The next import after all this still goes through.
        w.Ok("import", "--bundle", bundle, "--repo", repo, "--online-key", w.OnlineKey);
        Assert.Empty(Directory.EnumerateDirectories(repo, ".metadata.staging.*"));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(repo, "metadata"), ".*"));
        TestContext.Current.TestOutputHelper?.WriteLine($"{tries} tries, {killedRunning} kills of a running import (import {fullTime.TotalMilliseconds:0} ms, fastest {estimate.TotalMilliseconds:0} ms): {oldStates} old, {newStates} new, {stagingLeft} left a staging folder");
        Assert.True(killedRunning >= Kills, $"only {killedRunning} kills hit a running import in {tries} tries");
    }

    private static Process StartImport(Workflow w, string bundle, string repo)
    {
        var psi = new ProcessStartInfo(TestEnvironment.DotnetHost)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in (string[])["exec", Path.Combine(AppContext.BaseDirectory, "offline-signer.dll"), "import", "--bundle", bundle, "--repo", repo, "--online-key", w.OnlineKey])
        {
            psi.ArgumentList.Add(a);
        }

        var p = Process.Start(psi)!;
        p.StandardOutput.ReadToEndAsync();
        p.StandardError.ReadToEndAsync();
        return p;
    }
}
