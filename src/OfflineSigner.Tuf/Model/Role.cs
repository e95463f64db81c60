using System.Security.Cryptography;
using System.Text;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Tuf;

/// <summary>A set of key ids and how many of them must sign (TUF specification §4.3 "roles").</summary>
public class Role
{
    internal Role(JsonObject json, string path)
    {
        Json = json;
        KeyIds = Fields.StringList(json, "keyids", path, unique: true);
        Threshold = (int)Fields.Integer(json, "threshold", path, 1, int.MaxValue);
    }

    /// <summary>The role object as read (extra fields kept).</summary>
    public JsonObject Json { get; }

    /// <summary>The key ids allowed to sign for the role.</summary>
    public IReadOnlyList<string> KeyIds { get; }

    /// <summary>How many distinct keys must sign.</summary>
    public int Threshold { get; }

    /// <summary>A role object.</summary>
    public static JsonObject CreateJson(IEnumerable<string> keyIds, int threshold)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threshold, 1);
        return new JsonObject { { "keyids", Fields.ToArray(keyIds) }, { "threshold", threshold } };
    }
}

/// <summary>A delegated targets role (TUF specification §4.5 "delegations"; notary's <c>targets/NAME</c> roles).</summary>
public sealed class DelegatedRole : Role
{
    internal DelegatedRole(JsonObject json, string path, Dialect dialect)
        : base(json, path)
    {
        Name = Fields.String(json, "name", path);
        if (Name.Length == 0)
        {
            throw new MetadataFormatException(Fields.Child(path, "name"), "a delegated role needs a name");
        }

        Terminating = Fields.OptionalBoolean(json, "terminating", path) ?? false;
        if (dialect == Dialect.TufSpecification)
        {
            Fields.Boolean(json, "terminating", path);
        }

        var hasPaths = json.ContainsKey("paths");
        var hasPrefixes = json.ContainsKey("path_hash_prefixes");
        if (hasPaths && hasPrefixes)
        {
            throw new MetadataFormatException(path, "\"paths\" and \"path_hash_prefixes\" are mutually exclusive");
        }

        if (hasPaths)
        {
            Paths = Fields.StringList(json, "paths", path, unique: false);
        }
        else if (hasPrefixes)
        {
            PathHashPrefixes = Fields.StringList(json, "path_hash_prefixes", path, unique: false);
        }
        else if (dialect == Dialect.Notary)
        {
            throw new MetadataFormatException(Fields.Child(path, "paths"), "required field is missing");
        }

        Dialect = dialect;
    }

    /// <summary>The role's name.</summary>
    public string Name { get; }

    /// <summary>Whether the search for a target stops at this role.</summary>
    public bool Terminating { get; }

    /// <summary>Path patterns (spec: shell-style, <c>*</c> does not cross <c>/</c>; notary: plain prefixes), or null.</summary>
    public IReadOnlyList<string>? Paths { get; }

    /// <summary>Hex prefixes of the SHA-256 of target paths, or null.</summary>
    public IReadOnlyList<string>? PathHashPrefixes { get; }

    /// <summary>The dialect, which decides how <see cref="Paths"/> match.</summary>
    public Dialect Dialect { get; }

    /// <summary>Whether the role is trusted for a target path.</summary>
    public bool IsDelegatedPath(string targetPath)
    {
        if (Paths is not null)
        {
            return Paths.Any(p => Dialect == Dialect.Notary
                ? targetPath.StartsWith(p, StringComparison.Ordinal)
                : PathPattern.Matches(p, targetPath));
        }

        if (PathHashPrefixes is not null)
        {
            var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(targetPath)));
            return PathHashPrefixes.Any(p => hash.StartsWith(p, StringComparison.Ordinal));
        }

        return false;
    }

    /// <summary>A delegated role object in a dialect.</summary>
    public static JsonObject CreateJson(string name, IEnumerable<string> keyIds, int threshold, IEnumerable<string> paths, bool terminating, Dialect dialect)
    {
        var json = new JsonObject
        {
            { "name", name },
            { "keyids", Fields.ToArray(keyIds) },
            { "threshold", threshold },
            { "paths", Fields.ToArray(paths) },
        };
        if (dialect == Dialect.TufSpecification)
        {
            json.Add("terminating", terminating);
        }

        return json;
    }
}

/// <summary>Succinct hash-bin delegations (TAP 15, TUF specification 1.0.31 <c>succinct_roles</c>).</summary>
public sealed class SuccinctRoles : Role
{
    internal SuccinctRoles(JsonObject json, string path)
        : base(json, path)
    {
        BitLength = (int)Fields.Integer(json, "bit_length", path, 1, 32);
        NamePrefix = Fields.String(json, "name_prefix", path);
    }

    /// <summary>How many leading bits of the SHA-256 of a target path choose its bin.</summary>
    public int BitLength { get; }

    /// <summary>The prefix of every bin's role name.</summary>
    public string NamePrefix { get; }

    /// <summary>The number of bins.</summary>
    public long BinCount => 1L << BitLength;

    /// <summary>The role name of bin <paramref name="index"/>: prefix, '-', zero-padded lowercase hex.</summary>
    public string RoleName(long index)
    {
        var width = (BitLength + 3) / 4;
        return NamePrefix + "-" + index.ToString("x" + width.ToString(System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>All bin role names in order.</summary>
    public IEnumerable<string> RoleNames()
    {
        for (long i = 0; i < BinCount; i++)
        {
            yield return RoleName(i);
        }
    }

    /// <summary>The bin role responsible for a target path.</summary>
    public string RoleForTarget(string targetPath)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(targetPath));
        var first = ((uint)hash[0] << 24) | ((uint)hash[1] << 16) | ((uint)hash[2] << 8) | hash[3];
        return RoleName(first >> (32 - BitLength));
    }

    /// <summary>Whether a role name is one of the bins.</summary>
    public bool IsRole(string name)
    {
        if (!name.StartsWith(NamePrefix + "-", StringComparison.Ordinal))
        {
            return false;
        }

        var suffix = name[(NamePrefix.Length + 1)..];
        return suffix.Length == (BitLength + 3) / 4
            && suffix.All(char.IsAsciiHexDigitLower)
            && long.Parse(suffix, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture) < BinCount;
    }
}

/// <summary>The <c>delegations</c> of a targets role: keys and either a list of roles or succinct hash bins.</summary>
public sealed class Delegations
{
    internal Delegations(JsonObject json, string path, Dialect dialect, MetadataParseOptions options)
    {
        Json = json;
        Keys = ParseKeys(Fields.Object(json, "keys", path), Fields.Child(path, "keys"), dialect, options);
        var hasRoles = json.ContainsKey("roles");
        var hasSuccinct = json.ContainsKey("succinct_roles");
        if (hasRoles == hasSuccinct)
        {
            throw new MetadataFormatException(path, "exactly one of \"roles\" and \"succinct_roles\" is required");
        }

        if (hasRoles)
        {
            var arr = Fields.Array(json, "roles", path);
            var roles = new List<DelegatedRole>(arr.Count);
            ParseRoles(arr.Count, i => arr[i], Fields.Child(path, "roles"), dialect, roles.Add);
            Roles = roles;
        }
        else
        {
            Succinct = new SuccinctRoles(Fields.Object(json, "succinct_roles", path), Fields.Child(path, "succinct_roles"));
        }
    }

    internal static Dictionary<string, Key> ParseKeys(JsonObject keys, string keysPath, Dialect dialect, MetadataParseOptions options)
    {
        var map = new Dictionary<string, Key>(StringComparer.Ordinal);
        foreach (var (id, k) in keys)
        {
            var kp = Fields.Child(keysPath, id);
            map[id] = Key.Parse(id, Fields.AsObject(k, kp), dialect, kp, options.RejectUnsupportedKeys);
        }

        return map;
    }

    /// <summary>
    /// Reads the delegated roles in order, each from <paramref name="roleAt"/> (so that a caller may build one role's
    /// JSON at a time), checking that names are unique and not those of top-level roles.
    /// </summary>
    internal static void ParseRoles(int count, Func<int, JsonNode> roleAt, string rolesPath, Dialect dialect, Action<DelegatedRole> add)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var rp = Fields.Index(rolesPath, i);
            var role = new DelegatedRole(Fields.AsObject(roleAt(i), rp), rp, dialect);
            if (!names.Add(role.Name))
            {
                throw new MetadataFormatException(Fields.Child(rp, "name"), $"delegated role \"{role.Name}\" is listed twice");
            }

            if (role.Name is "root" or "snapshot" or "targets" or "timestamp")
            {
                throw new MetadataFormatException(Fields.Child(rp, "name"), $"\"{role.Name}\" is a top-level role name and cannot be delegated");
            }

            add(role);
        }
    }

    /// <summary>The delegations object as read.</summary>
    public JsonObject Json { get; }

    /// <summary>Keys by key id.</summary>
    public IReadOnlyDictionary<string, Key> Keys { get; }

    /// <summary>Delegated roles in order of priority, or null when <see cref="Succinct"/> is used.</summary>
    public IReadOnlyList<DelegatedRole>? Roles { get; }

    /// <summary>Succinct hash-bin delegations, or null.</summary>
    public SuccinctRoles? Succinct { get; }

    /// <summary>The role that delegates to <paramref name="name"/> (a listed role or a succinct bin), or null.</summary>
    public Role? FindRole(string name)
    {
        if (Roles is not null)
        {
            return Roles.FirstOrDefault(r => r.Name == name);
        }

        return Succinct!.IsRole(name) ? Succinct : null;
    }

    /// <summary>The names of every delegated role (bins listed one by one).</summary>
    public IEnumerable<string> RoleNames() => Roles?.Select(r => r.Name) ?? Succinct!.RoleNames();
}

/// <summary>TUF specification §4.5 path patterns: shell-style, where <c>*</c> and <c>?</c> do not cross a '/'.</summary>
public static class PathPattern
{
    /// <summary>Whether <paramref name="path"/> matches <paramref name="pattern"/>, segment by segment.</summary>
    public static bool Matches(string pattern, string path)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(path);
        var ps = pattern.Split('/');
        var ts = path.Split('/');
        if (ps.Length != ts.Length)
        {
            return false;
        }

        for (var i = 0; i < ps.Length; i++)
        {
            if (!MatchSegment(ps[i], ts[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static bool MatchSegment(string p, string s)
    {
        // Iterative glob with backtracking on the last '*'; supports '*', '?' and [...] classes as fnmatch does.
        int pi = 0, si = 0, star = -1, mark = 0;
        while (si < s.Length)
        {
            if (pi < p.Length && p[pi] == '*')
            {
                star = pi++;
                mark = si;
            }
            else if (pi < p.Length && MatchOne(p, ref pi, s[si], out var next))
            {
                pi = next;
                si++;
            }
            else if (star >= 0)
            {
                pi = star + 1;
                si = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (pi < p.Length && p[pi] == '*')
        {
            pi++;
        }

        return pi == p.Length;
    }

    private static bool MatchOne(string p, ref int pi, char c, out int next)
    {
        next = pi + 1;
        switch (p[pi])
        {
            case '?':
                return true;
            case '[':
                var end = p.IndexOf(']', pi + 2);
                if (end < 0)
                {
                    return p[pi] == c;
                }

                var cls = p.AsSpan(pi + 1, end - pi - 1);
                var negate = cls.Length > 0 && cls[0] == '!';
                if (negate)
                {
                    cls = cls[1..];
                }

                var hit = false;
                for (var i = 0; i < cls.Length; i++)
                {
                    if (i + 2 < cls.Length && cls[i + 1] == '-')
                    {
                        hit |= c >= cls[i] && c <= cls[i + 2];
                        i += 2;
                    }
                    else
                    {
                        hit |= cls[i] == c;
                    }
                }

                next = end + 1;
                return hit != negate;
            default:
                return p[pi] == c;
        }
    }
}
