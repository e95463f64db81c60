using System.Text.RegularExpressions;

namespace OfflineSigner.Bundles;

/// <summary>
/// Names inside a bundle. They must survive FAT32 and exFAT (case-insensitive, no ':' '*' '?' '"' '&lt;' '&gt;' '|' '\',
/// no trailing dot or space) and be unambiguous anywhere: lower-case letters, digits, '.', '_' and '-', starting
/// with a letter or digit, under the folders <c>items</c>, <c>context</c> and <c>signatures</c> only.
/// </summary>
public static partial class BundleNames
{
    public const string Manifest = "manifest.json";
    public const string Transcript = "transcript.jsonl";
    public const string Items = "items";
    public const string Context = "context";
    public const string Signatures = "signatures";

    public static readonly string[] Folders = [Items, Context, Signatures];

    public static string ItemPath(string id) => $"{Items}/{id}.json";

    public static string RootContextPath(long version) => $"{Context}/root.{version}.json";

    public static string PreviousContextPath(string id) => $"{Context}/previous.{id}.json";

    public static string DelegatorContextPath(string id) => $"{Context}/delegator.{id}.json";

    /// <summary>
    /// signatures/KEYID/ITEM.json: one folder per signing key, so that short names keep FAT32's 65,534 directory
    /// entries per folder enough for 16,384 items per signer (a long name costs one entry per 13 characters).
    /// </summary>
    public static string SignaturePath(string itemId, string keyId) => $"{Signatures}/{keyId}/{itemId}.json";

    /// <summary>Whether a folder name under signatures/ is a key id.</summary>
    public static bool IsKeyIdFolder(string name) => KeyIdName().IsMatch(name);

    /// <summary>The item id a signature file's name carries, or null when the name is not one.</summary>
    public static string? ParseSignatureName(string fileName)
    {
        var m = SignatureName().Match(fileName);
        return m.Success ? m.Groups[1].Value : null;
    }

    /// <summary>Refuses a path that is absolute, has '..', '.', empty or unsafe components, or is outside the bundle's folders.</summary>
    public static void CheckRelativePath(string path, string where)
    {
        if (path.StartsWith('/') || path.Contains('\\', StringComparison.Ordinal))
        {
            throw new BundleException($"{where}: \"{path}\" is an absolute or non-portable path; bundle paths are relative, with '/'");
        }

        var parts = path.Split('/');
        if (parts.Any(p => p is ".." or "." or ""))
        {
            throw new BundleException($"{where}: \"{path}\" has an empty, '.' or '..' component");
        }

        if (parts.Length != 2 || parts[0] == Signatures || !Folders.Contains(parts[0], StringComparer.Ordinal) || !SafeName().IsMatch(parts[1]))
        {
            throw new BundleException($"{where}: \"{path}\" is not a bundle file name (items/ or context/ followed by lower-case letters, digits, '.', '_', '-')");
        }
    }

    public static bool IsSafeName(string name) => SafeName().IsMatch(name);

    /// <summary>A temporary file of an interrupted atomic write (.NAME.HEX12.tmp): never read, skipped when a bundle is opened.</summary>
    public static bool IsTemporaryName(string name) => TemporaryName().IsMatch(name);

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,119}(?<![. ])$", RegexOptions.CultureInvariant)]
    private static partial Regex SafeName();

    [GeneratedRegex("^([0-9]{5})\\.json$", RegexOptions.CultureInvariant)]
    private static partial Regex SignatureName();

    [GeneratedRegex("^\\.[a-z0-9][a-z0-9._-]{0,119}\\.[0-9a-f]{12}\\.tmp$", RegexOptions.CultureInvariant)]
    private static partial Regex TemporaryName();

    [GeneratedRegex("^[0-9a-f]{16,128}$", RegexOptions.CultureInvariant)]
    private static partial Regex KeyIdName();
}
