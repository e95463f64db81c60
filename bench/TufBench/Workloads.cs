using System.Security.Cryptography;
using System.Text;
using OfflineSigner.Signing;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.TufBench;

/// <summary>One generated metadata file and the delegated role name it is verified as.</summary>
internal sealed record Workload(string Name, string File, string Role, string Description);

/// <summary>
/// Writes the benchmark's metadata deterministically: a fixed key (derived from a fixed seed), a fixed clock and a
/// seeded generator, so every run measures the same bytes (only the ECDSA signature values differ, since ECDSA
/// signing is randomized).
/// </summary>
internal static class Workloads
{
    public const string DelegatorFile = "targets.json";

    public const string RootFile = "root.json";
    public const int BinCount = 16_384;
    public const int FlatTargetCount = 200_000;

    private static readonly DateTimeOffset Expires = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly string[] Projects =
    [
        "requests", "numpy", "urllib3", "botocore", "setuptools", "certifi", "idna", "typing-extensions", "charset-normalizer",
        "python-dateutil", "packaging", "s3transfer", "pyyaml", "six", "cryptography", "grpcio-status", "pip", "protobuf",
        "fsspec", "pydantic", "jmespath", "wheel", "attrs", "rsa", "platformdirs", "pyasn1", "click", "pandas", "markupsafe",
        "jinja2", "importlib-metadata", "zipp", "filelock", "tomli", "cffi", "pycparser", "google-api-core", "pluggy", "pytest",
        "wrapt", "virtualenv", "googleapis-common-protos", "colorama", "aiobotocore", "sqlalchemy", "pyjwt", "psutil", "iniconfig",
    ];

    private static readonly string[] Platforms =
    [
        "py3-none-any.whl", "cp312-cp312-manylinux_2_17_x86_64.whl", "cp311-cp311-macosx_11_0_arm64.whl", "tar.gz",
        "cp310-cp310-win_amd64.whl", "cp312-cp312-musllinux_1_1_aarch64.whl",
    ];

    public static IReadOnlyList<Workload> All(string dir) =>
    [
        new("bins", Path.Combine(dir, "bins.json"), "bins", $"PEP 458 bins: {BinCount:N0} hash-bin delegations"),
        new("flat", Path.Combine(dir, "flat.json"), "flat", $"flat targets: {FlatTargetCount:N0} targets"),
    ];

    /// <summary>Writes the delegating targets role and both workloads into <paramref name="dir"/>.</summary>
    public static void Generate(string dir)
    {
        Directory.CreateDirectory(dir);
        using var signer = FixedKey();
        var key = Key.FromPublicKey(signer.PublicKey, Dialect.TufSpecification);

        var delegator = Metadata<Targets>.Create(Targets.Create(Dialect.TufSpecification, Expires));
        delegator.Signed.AddDelegation("bins", [key], 1, ["*"]);
        delegator.Signed.AddDelegation("flat", [key], 1, ["*"]);
        Write(delegator.Signed.Json, signer, key, Path.Combine(dir, DelegatorFile));

        // A root that trusts the same key for every top-level role, for offline-signer verify --root.
        var root = Root.Create(Dialect.TufSpecification, Expires);
        foreach (var role in Root.TopLevelRoles)
        {
            root.AddKey(role, key);
        }

        Write(root.Json, signer, key, Path.Combine(dir, RootFile));

        var all = All(dir);
        Write(Bins(key), signer, key, all[0].File);
        Write(Flat(), signer, key, all[1].File);
    }

    /// <summary>
    /// python-tuf's hashed-bin layout: 16^4 path-hash prefixes spread evenly over 16,384 bins named by their first
    /// and last prefix ("0000-0003"), four prefixes each, all bins trusting the same single key (PEP 458's bin-n key).
    /// </summary>
    private static JsonObject Bins(Key key)
    {
        const int prefixLength = 4;
        var prefixCount = 1 << (4 * prefixLength);
        var perBin = prefixCount / BinCount;
        var roles = new JsonArray();
        for (var bin = 0; bin < BinCount; bin++)
        {
            var first = bin * perBin;
            var prefixes = new JsonArray();
            for (var p = first; p < first + perBin; p++)
            {
                prefixes.Add(p.ToString("x4", null));
            }

            var name = first.ToString("x4", null) + "-" + (first + perBin - 1).ToString("x4", null);
            roles.Add(new JsonObject
            {
                { "name", name },
                { "keyids", new JsonArray([key.KeyId]) },
                { "threshold", 1 },
                { "terminating", false },
                { "path_hash_prefixes", prefixes },
            });
        }

        var signed = Header();
        signed.Add("targets", new JsonObject());
        signed.Add("delegations", new JsonObject { { "keys", new JsonObject { { key.KeyId, key.Json.DeepClone() } } }, { "roles", roles } });
        return signed;
    }

    /// <summary>
    /// A flat targets role: release files of a package index. Every target has a length and a SHA-256; one in eight
    /// also a SHA-512; one in sixteen a small custom object.
    /// </summary>
    private static JsonObject Flat()
    {
        var random = new Random(458);
        var targets = new JsonObject();
        Span<byte> digest = stackalloc byte[64];
        var i = 0;
        while (targets.Count < FlatTargetCount)
        {
            var project = Projects[random.Next(Projects.Length)];
            var version = $"{random.Next(0, 12)}.{random.Next(0, 40)}.{random.Next(0, 20)}";
            var platform = Platforms[random.Next(Platforms.Length)];
            var path = $"{project}/{version}/{project.Replace('-', '_')}-{version}-{platform}";
            if (targets.ContainsKey(path))
            {
                path = $"{project}/{version}/{i:x}/{project.Replace('-', '_')}-{version}-{platform}";
            }

            random.NextBytes(digest);
            var hashes = new JsonObject { { "sha256", Convert.ToHexStringLower(digest[..32]) } };
            if (i % 8 == 0)
            {
                hashes.Add("sha512", Convert.ToHexStringLower(digest));
            }

            var entry = new JsonObject { { "length", random.NextInt64(200, 80_000_000) }, { "hashes", hashes } };
            if (i % 16 == 0)
            {
                entry.Add("custom", new JsonObject { { "requires_python", ">=3.9" }, { "yanked", i % 64 == 0 } });
            }

            targets.TryAdd(path, entry);
            i++;
        }

        var signed = Header();
        signed.Add("targets", targets);
        return signed;
    }

    private static JsonObject Header() => new()
    {
        { "_type", "targets" },
        { "spec_version", "1.0.31" },
        { "version", 1 },
        { "expires", "2030-01-01T00:00:00Z" },
    };

    /// <summary>Parses the payload through the model (validating it), signs it, verifies, and writes the file.</summary>
    private static void Write(JsonObject signed, SoftwareKeySigner signer, Key key, string file)
    {
        var doc = new JsonObject { { "signatures", new JsonArray() }, { "signed", signed } };
        var bytes = JsonText.Serialize(doc);
        var metadata = MetadataReader.Parse(bytes, MetadataParseOptions.Default.WithMaxBytes(bytes.Length));
        metadata.SignWith(signer, key);
        File.WriteAllBytes(file, metadata.ToBytes());
    }

    /// <summary>An ECDSA P-256 key whose private scalar is the SHA-256 of a fixed seed.</summary>
    private static SoftwareKeySigner FixedKey()
    {
        var d = SHA256.HashData(Encoding.ASCII.GetBytes("OfflineSigner TufBench fixed key"));
        using var ec = ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, D = d });
        var pkcs8 = ec.ExportPkcs8PrivateKey();
        try
        {
            return SoftwareKeySigner.ImportPkcs8(pkcs8);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
            CryptographicOperations.ZeroMemory(d);
        }
    }

    /// <summary>The public key of the fixed key, for peers that verify with their own code.</summary>
    public static PublicKey FixedPublicKey()
    {
        using var signer = FixedKey();
        return signer.PublicKey;
    }
}
