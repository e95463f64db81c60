using OfflineSigner.Bundles;
using OfflineSigner.Cli.Repositories;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;

namespace OfflineSigner.Cli.Workflow;

/// <summary>
/// A repository on a notary server, read and published through its HTTP API. The server holds the timestamp and
/// snapshot keys (server-managed snapshot: the server makes a new snapshot for every publish); the targets key may be
/// offline (in the daemon, signed through bundles) or online (--online-key, as `docker trust` keeps the repository
/// key). Every publish is one multipart request that the server applies whole or not at all.
/// </summary>
internal sealed class NotaryTarget(Uri server, string gun) : RepositoryTarget
{
    public override Dialect Dialect => Dialect.Notary;

    public override string Name => gun;

    public override string? Gun => gun;

    public override string Describe() => $"{gun} on {server}";

    public override async Task<LoadedRepository?> LoadAsync(CancellationToken cancellationToken)
    {
        using var client = new NotaryServerClient(server, gun);
        var rootFile = await client.TryGetRoleAsync("root", cancellationToken).ConfigureAwait(false);
        if (rootFile is null)
        {
            return null;
        }

        var state = new RepositoryState(Dialect.Notary);
        var chain = await client.GetRootChainAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        if (chain.Count == 0)
        {
            chain = [rootFile];
        }

        foreach (var bytes in chain)
        {
            var root = Parse<Root>(bytes, "root");
            if (state.Roots.Count == 0)
            {
                Check(Verifier.VerifyTopLevel(root.Signed, root), $"root version {root.Signed.Version}");
            }
            else
            {
                var step = Verifier.VerifyRootUpdate(state.Root, root);
                if (!step.Verified)
                {
                    throw new OfflineSignerException($"the server's root version {root.Signed.Version} does not verify against version {state.Root.Signed.Version}");
                }
            }

            state.Roots.Add(root);
        }

        var current = Parse<Root>(rootFile, "root");
        if (current.Signed.Version != state.Root.Signed.Version)
        {
            throw new OfflineSignerException($"the server's root.json is version {current.Signed.Version}, but its newest versioned root is {state.Root.Signed.Version}");
        }

        foreach (var problem in RepositoryVerifier.NotaryRootKeyProblems(state.Root.Signed, gun, DateTimeOffset.UtcNow))
        {
            throw new OfflineSignerException($"the server's root: {problem}");
        }

        state.Targets = Parse<Targets>(await client.GetRoleAsync("targets", cancellationToken).ConfigureAwait(false), "targets");
        Check(Verifier.Verify("targets", state.Root.Signed.Roles["targets"], state.Root.Signed.Keys, state.Targets), "targets");
        var pending = new Queue<Targets>([state.Targets.Signed]);
        while (pending.TryDequeue(out var delegator))
        {
            foreach (var name in delegator.Delegations?.Roles?.Select(r => r.Name) ?? [])
            {
                var bytes = await client.TryGetRoleAsync(name, cancellationToken).ConfigureAwait(false);
                if (bytes is null || state.Delegated.ContainsKey(name))
                {
                    continue;
                }

                var md = Parse<Targets>(bytes, name);
                Check(Verifier.VerifyDelegated(name, delegator, md), name);
                state.Delegated[name] = md;
                pending.Enqueue(md.Signed);
            }
        }

        return new LoadedRepository(state, rootFile);
    }

    public override async Task<IReadOnlyList<(string Role, Key Key)>> OnlineKeysForNewAsync(string? onlineKeyFile, CancellationToken cancellationToken)
    {
        using var client = new NotaryServerClient(server, gun);
        if (await client.TryGetRoleAsync("root", cancellationToken).ConfigureAwait(false) is not null)
        {
            throw new OfflineSignerException($"{Describe()} already has a root: --new starts a new repository");
        }

        var keys = new List<(string, Key)>
        {
            ("timestamp", await client.GetServerKeyAsync("timestamp", cancellationToken).ConfigureAwait(false)),
            ("snapshot", await client.GetServerKeyAsync("snapshot", cancellationToken).ConfigureAwait(false)),
        };
        if (onlineKeyFile is not null)
        {
            keys.Add(("targets", ReadOnlyPublicKey(onlineKeyFile, Dialect.Notary)));
        }

        return keys;
    }

    public override async Task<ImportResult> ImportAsync(Bundle bundle, string? onlineKeyFile, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var loaded = await LoadAsync(cancellationToken).ConfigureAwait(false);
        using var online = onlineKeyFile is null ? null : SoftwareKeySigner.LoadPkcs8Pem(onlineKeyFile);
        var plan = Importer.Plan(bundle, loaded?.State, loaded?.RootFile, gun, now, online);
        var state = plan.State;
        foreach (var problem in RepositoryVerifier.NotaryRootKeyProblems(state.Root.Signed, gun, now))
        {
            throw new ImportRefusedException($"the new root: {problem}");
        }

        var files = new List<(string Role, byte[] Bytes)>();
        if (plan.FirstNewRootVersion > 0)
        {
            files.Add(("root", RepositoryState.FileBytes(state.Root)));
        }

        foreach (var role in plan.ChangedRoles.Where(r => r != "root").Distinct(StringComparer.Ordinal))
        {
            files.Add((role, RepositoryState.FileBytes(role == "targets" ? state.Targets! : state.Delegated[role])));
        }

        using var client = new NotaryServerClient(server, gun);
        await client.PublishAsync(files, cancellationToken).ConfigureAwait(false);

        // What the server serves now is what was published, and it verifies.
        var after = await LoadAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new OfflineSignerException("the server accepted the publish but serves no root");
        if (after.State.Root.Signed.Version != state.Root.Signed.Version || after.State.Targets!.Signed.Version != state.Targets!.Signed.Version)
        {
            throw new OfflineSignerException($"the server accepted the publish but serves root version {after.State.Root.Signed.Version} and targets version {after.State.Targets!.Signed.Version}");
        }

        return new ImportResult(plan.ChangedRoles, state.Root.Signed.Version, [.. files.Select(f => f.Role)], [$"published {files.Count} role(s) in one request; the server signed the new snapshot and timestamp"]);
    }

    private static Metadata<T> Parse<T>(byte[] bytes, string role)
        where T : Signed
    {
        try
        {
            return Metadata<T>.Parse(bytes, dialect: Dialect.Notary);
        }
        catch (MetadataException e)
        {
            throw new MetadataException($"the server's {role}: {e.Message}", e);
        }
    }

    private static void Check(VerificationResult result, string what)
    {
        if (!result.Verified)
        {
            throw new OfflineSignerException($"the server's {what} does not verify: {result.Signers.Count} of {result.Threshold} signatures");
        }
    }
}
