using System.CommandLine;
using System.Security.Cryptography;
using OfflineSigner.Bundles;
using OfflineSigner.Ceremony.Engine;
using OfflineSigner.Ceremony.Scripts;
using OfflineSigner.Ceremony.Transcripts;
using OfflineSigner.Cli.Ceremonies;
using OfflineSigner.Cli.Workflow;
using OfflineSigner.YubiKey.Attestation;

namespace OfflineSigner.Cli.Commands;

/// <summary>
/// <c>offline-signer ceremony run SCRIPT</c>: walks the operators through a validated script on the console, step by
/// step in the script's order, acting only through the daemon; refuses to go on after a failed step; writes the
/// hash-chained transcript as it goes, seals it with the ceremony's keys, and puts the items, their signatures, every
/// key's attestation evidence and the sealed transcript into the request bundle. A rehearsal runs the same script on
/// rehearsal devices with a fixed clock and is marked as a rehearsal everywhere.
/// </summary>
internal static class CeremonyRunCommand
{
    /// <summary>The transcript's file name in --out.</summary>
    public const string TranscriptName = "transcript.jsonl";

    public static Command Create()
    {
        var script = new Argument<string>("SCRIPT") { Description = "The ceremony script (JSON), validated with 'ceremony validate' before the day" };
        var bundle = new Option<string>("--bundle") { Description = "The request bundle: from 'export --new' (online keys) for a new repository, where the ceremony's items, signatures, evidence and transcript are added; or from 'export --role targets --delegation NAME' for a ceremony on an existing repository (enroll-key steps), which stays as it is", Required = true };
        var bundleOut = new Option<string?>("--bundle-out") { Description = "A ceremony on an existing repository: the new bundle folder its export step writes (must not exist, or be empty)" };
        var roots = new Option<string?>("--attestation-roots") { Description = "PEM file of the trusted PIV attestation roots (Yubico's for a ceremony; the simulator's CA for a rehearsal); required when a holder has a YubiKey" };
        var rehearsal = new Option<bool>("--rehearsal") { Description = "A rehearsal on rehearsal devices (SoftHSM2 tokens, the YubiKey simulator) with a fixed clock; the transcript and report say so" };
        var at = new Option<string?>("--at") { Description = "Rehearsal only: the fixed time of the ceremony clock (RFC 3339; default: the start, frozen)" };
        var outDir = new Option<string>("--out") { Description = "The folder the transcript is written to (default: the current folder)", DefaultValueFactory = _ => "." };
        var socket = SignCommand.SocketOption();
        var pinFd = SignCommand.PinFdOption();
        var cmd = new Command("run", "Run a ceremony script step by step on the console through the daemon: generate and attest keys on the holders' devices, build and sign root and delegations, export the bundle, seal the transcript. Refuses to skip, reorder or go on after a failed step.\n" + ExitCodes.Help)
        {
            script, bundle, bundleOut, roots, rehearsal, at, outDir, socket, pinFd,
        };
        cmd.SetAction((p, ct) => Task.FromResult(CommandSupport.Guard(() => Run(
            p.GetValue(script)!, p.GetValue(bundle)!, p.GetValue(bundleOut), p.GetValue(roots), p.GetValue(rehearsal), p.GetValue(at), p.GetValue(outDir)!, p.GetValue(socket), p.GetValue(pinFd), ct))));
        return cmd;
    }

    private static int Run(string scriptPath, string bundlePath, string? bundleOutPath, string? rootsPath, bool rehearsal, string? at, string outDir, string? socket, int? pinFd, CancellationToken ct)
    {
        var validation = CeremonyScriptValidator.Validate(CommandSupport.ReadFile(scriptPath, CeremonyScriptReader.MaxScriptBytes));
        if (!validation.Valid)
        {
            foreach (var e in validation.Errors)
            {
                Console.Error.WriteLine($"{scriptPath}: {e}");
            }

            Console.Error.WriteLine($"refused: {scriptPath} is not a valid ceremony script ({validation.Errors.Count()} error(s)); nothing was done");
            return ExitCodes.VerificationFailed;
        }

        var parsed = validation.Script!;
        if (at is not null && !rehearsal)
        {
            throw new OfflineSignerException("--at sets a fixed clock, which only a rehearsal has: a ceremony runs on the machine's clock");
        }

        var needsPiv = parsed.KeyHolders.Any(h => h.Device.Kind == DeviceKind.YubiKey);
        if (needsPiv && rootsPath is null)
        {
            throw new OfflineSignerException("the script has YubiKey holders: give the trusted PIV attestation roots with --attestation-roots FILE (Yubico's roots; the simulator's CA for a rehearsal)");
        }

        PivAttestationRoots? pivRoots;
        try
        {
            pivRoots = rootsPath is null ? null : PivAttestationRoots.Load(rootsPath);
        }
        catch (YubiKey.YubiKeyException e)
        {
            throw new OfflineSignerException("--attestation-roots: " + e.Message, e);
        }

        var b = Bundle.Open(bundlePath);
        var existing = parsed.Steps.Any(st => st.Action == StepAction.EnrollKey);
        if (!existing && (!b.Manifest.IsNewRepository || b.Manifest.Items.Count > 0))
        {
            throw new OfflineSignerException($"{bundlePath} is not a request for a new repository with no items yet: a ceremony that builds a root takes the bundle 'offline-signer export --new' wrote");
        }

        if (existing && b.Manifest.IsNewRepository)
        {
            throw new OfflineSignerException($"the script brings keys of an existing repository's root (enroll-key), but {bundlePath} is a request for a new repository: take the bundle 'offline-signer export --repo DIR --role targets --delegation NAME' wrote");
        }

        if (existing && parsed.Steps.Any(st => st.Action == StepAction.ExportBundle))
        {
            if (bundleOutPath is null)
            {
                throw new OfflineSignerException("a ceremony on an existing repository leaves the request bundle as it is and writes a new one: give --bundle-out DIR");
            }

            if (Directory.Exists(bundleOutPath) && Directory.EnumerateFileSystemEntries(bundleOutPath).Any())
            {
                throw new OfflineSignerException($"--bundle-out {bundleOutPath} is not empty: choose a new folder");
            }
        }
        else if (!existing && bundleOutPath is not null)
        {
            throw new OfflineSignerException("--bundle-out is for a ceremony on an existing repository (enroll-key steps); a new repository's ceremony adds to --bundle");
        }

        if (b.Manifest.Dialect != parsed.Repository.Dialect)
        {
            throw new OfflineSignerException($"the script is for a {BundleManifest.DialectName(parsed.Repository.Dialect)} repository, the bundle for a {BundleManifest.DialectName(b.Manifest.Dialect)} one");
        }

        if (parsed.Repository.Dialect == Tuf.Dialect.Notary && b.Manifest.Repository.Gun != parsed.Repository.Name)
        {
            throw new OfflineSignerException($"the script is for the notary repository {parsed.Repository.Name}, the bundle for {b.Manifest.Repository.Gun}");
        }

        Directory.CreateDirectory(outDir);
        var transcriptPath = Path.Combine(outDir, TranscriptName);
        if (File.Exists(transcriptPath))
        {
            throw new OfflineSignerException($"{transcriptPath} exists: every ceremony (and every rehearsal) gets a new transcript; choose another --out");
        }

        TimeProvider clock = rehearsal ? new FixedClock(Truncate(CommandSupport.ParseAt(at))) : TimeProvider.System;
        var mode = rehearsal ? CeremonyMode.Rehearsal : CeremonyMode.Ceremony;
        using var daemon = new DaemonSession(DaemonSession.SocketFrom(socket));
        var console = new OperatorConsole(assumeYes: false, pinFd, quiet: false);
        try
        {
            var actions = new DaemonCeremonyActions(daemon, b, bundleOutPath, console, parsed.CeremonyId, clock, ct);
            var verifier = new PivEvidenceVerifier(pivRoots, clock);
            var op = new TextCeremonyOperator(Console.In, Console.Out);
            CeremonyRunner runner;
            using (var writer = TranscriptWriter.Create(transcriptPath, clock))
            {
                runner = new CeremonyRunner(parsed, actions, verifier, op, writer, mode);
                try
                {
                    runner.RunAll();
                }
                catch (CeremonyStepFailedException e)
                {
                    Console.Error.WriteLine($"refused: {e.Message}");
                    Console.Error.WriteLine($"the ceremony stopped; {transcriptPath} records what happened and why. Nothing more can be added to it: hold the ceremony again with a new transcript.");
                    Console.Error.WriteLine(runner.Bundle is null ? $"the bundle {bundlePath} was not changed{(bundleOutPath is null ? string.Empty : " and no bundle was written to " + bundleOutPath)}." : $"the bundle {runner.Bundle.Location} carries the items exported before the failure but no sealed transcript: the online side refuses it.");
                    return ExitCodes.VerificationFailed;
                }
            }

            var bytes = File.ReadAllBytes(transcriptPath);
            var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
            Console.WriteLine();
            Console.WriteLine($"{(rehearsal ? "rehearsal" : "ceremony")} {parsed.CeremonyId} sealed: {runner.EnrolledKeys.Count} key(s) enrolled, transcript {transcriptPath} (SHA-256 {sha})");
            if (runner.Bundle is { } exported)
            {
                Console.WriteLine($"bundle {exported.BundleId} at {exported.Location}: items, signatures, evidence and the sealed transcript; the witnesses now sign their statements ('offline-signer ceremony witness {transcriptPath} ...')");
            }

            return ExitCodes.Ok;
        }
        finally
        {
            console.Wipe();
        }
    }

    private static DateTimeOffset Truncate(DateTimeOffset t) => new(t.Year, t.Month, t.Day, t.Hour, t.Minute, t.Second, TimeSpan.Zero);

    /// <summary>The clock of a rehearsal: one instant, so that expiries and times do not depend on when it runs.</summary>
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
