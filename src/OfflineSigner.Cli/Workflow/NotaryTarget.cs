using OfflineSigner.Bundles;
using OfflineSigner.Tuf;

namespace OfflineSigner.Cli.Workflow;

/// <summary>A repository on a notary server, read and published through its HTTP API.</summary>
internal sealed class NotaryTarget(Uri server, string gun) : RepositoryTarget
{
    public override Dialect Dialect => Dialect.Notary;

    public override string Name => gun;

    public override string? Gun => gun;

    public override string Describe() => $"{gun} on {server}";

    public override Task<LoadedRepository?> LoadAsync(CancellationToken cancellationToken) => throw new NotImplementedException();

    public override Task<IReadOnlyList<(string Role, Key Key)>> OnlineKeysForNewAsync(string? onlineKeyFile, CancellationToken cancellationToken) => throw new NotImplementedException();

    public override Task<ImportResult> ImportAsync(Bundle bundle, string? onlineKeyFile, DateTimeOffset now, CancellationToken cancellationToken) => throw new NotImplementedException();
}
