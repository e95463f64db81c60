using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using OfflineSigner.Release.Tests.Support;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Release.Tests;

/// <summary>
/// The release manifest and the SBOM that scripts/release.sh writes, checked against what the release really
/// contains: the files of the package and of the tarball (hashed here), the lock files of the checkout, the runtime
/// packs in the NuGet cache; `sha256sum -c` checks SHA256SUMS, and the CycloneDX project's own library validates the
/// SBOM against its schema.
/// </summary>
public sealed class ManifestTests(ReleaseBuild release)
{
    private const string ManifestPath = "usr/lib/offline-signer/release-manifest.json";

    [Fact]
    public void The_manifest_lists_every_file_of_the_package_and_the_tarball_with_its_sha256()
    {
        var built = release.Require();
        var manifest = JsonNode.Parse(File.ReadAllBytes(built.Manifest))!;
        Assert.Equal("offline-signer-release-manifest/1", (string?)manifest["format"]);
        Assert.Equal(built.Commit, (string?)manifest["commit"]);
        Assert.Equal(built.Version, (string?)manifest["version"]);
        Assert.Equal(built.SourceDateEpoch, (long)manifest["source_date_epoch"]!);

        using var dir = TestEnvironment.CreateTempDir("manifest");
        var deb = Path.Combine(dir.Path, "deb");
        Run("dpkg-deb", "-R", built.Deb, deb);
        var tar = Path.Combine(dir.Path, "tar");
        Directory.CreateDirectory(tar);
        Run("tar", "-xzf", built.Tarball, "-C", tar);
        var tarRoot = Path.Combine(tar, $"offline-signer-{built.Version}-linux-x64");

        foreach (var root in new[] { deb, tarRoot })
        {
            // The installed copy of the manifest is the published one.
            Assert.Equal(File.ReadAllBytes(built.Manifest), File.ReadAllBytes(Path.Combine(root, ManifestPath)));
            AssertTreeMatches(manifest, root, exclude: root == deb ? "DEBIAN" : null);
        }

        // The maintainer scripts are named too.
        var control = manifest["debian_control"]!.AsObject();
        Assert.Equal(["conffiles", "postinst", "postrm", "prerm"], control.Select(p => p.Key).Order(StringComparer.Ordinal));
        foreach (var (name, sha) in control)
        {
            Assert.Equal((string?)sha, Sha256(Path.Combine(deb, "DEBIAN", name)));
        }

        Assert.Equal("/etc/offline-signerd/config.json", File.ReadAllText(Path.Combine(deb, "DEBIAN", "conffiles")).Trim());
    }

    [Fact]
    public void The_manifest_pins_the_packages_of_the_lock_files_and_the_runtime_the_publish_bundled()
    {
        var built = release.Require();
        var manifest = JsonNode.Parse(File.ReadAllBytes(built.Manifest))!;

        // Independently: every package of every lock file in the two programs' project graph, with its content hash.
        var expected = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var pending = new Stack<string>(["OfflineSigner.Daemon", "OfflineSigner.Cli"]);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var src = Path.Combine(built.CheckoutA, "src");
        while (pending.TryPop(out var project))
        {
            if (!seen.Add(project))
            {
                continue;
            }

            var folder = Directory.GetDirectories(src).Single(d => string.Equals(Path.GetFileName(d), project, StringComparison.OrdinalIgnoreCase));
            var lockFile = JsonNode.Parse(File.ReadAllBytes(Path.Combine(folder, "packages.lock.json")))!;
            foreach (var (target, entries) in lockFile["dependencies"]!.AsObject())
            {
                if (target.Contains('/', StringComparison.Ordinal))
                {
                    Assert.Equal("net10.0/linux-x64", target);
                    continue;
                }

                foreach (var (id, entry) in entries!.AsObject())
                {
                    if ((string?)entry!["type"] == "Project")
                    {
                        pending.Push(id);
                        continue;
                    }

                    expected[$"{id}/{(string?)entry["resolved"]}"] = Convert.ToHexStringLower(Convert.FromBase64String((string)entry["contentHash"]!));
                }
            }
        }

        var packages = manifest["packages"]!.AsArray();
        var listed = packages.ToDictionary(p => $"{(string?)p!["id"]}/{(string?)p["version"]}", p => (string)p!["content_sha512"]!, StringComparer.Ordinal);
        Assert.Equal(expected, new SortedDictionary<string, string>(listed, StringComparer.Ordinal));
        Assert.Contains("System.CommandLine/2.0.15", listed.Keys);

        // Runtime packages are installed with the programs, build tools are not.
        using var dir = TestEnvironment.CreateTempDir("manifest");
        Run("dpkg-deb", "-x", built.Deb, dir.Path);
        var lib = Path.Combine(dir.Path, "usr", "lib", "offline-signer");
        foreach (var p in packages)
        {
            var id = (string)p!["id"]!;
            var installed = File.Exists(Path.Combine(lib, id + ".dll"));
            Assert.True(installed == ((string?)p["scope"] == "runtime"), $"{id}: scope {(string?)p["scope"]}, installed: {installed}");
        }

        // The .NET runtime: the version the self-contained programs run on, from their own runtimeconfig.json.
        var runtime = (string)manifest["dotnet"]!["runtime"]!;
        foreach (var program in new[] { "offline-signerd", "offline-signer" })
        {
            var config = JsonNode.Parse(File.ReadAllBytes(Path.Combine(lib, program + ".runtimeconfig.json")))!;
            var frameworks = config["runtimeOptions"]!["includedFrameworks"]!.AsArray();
            Assert.Contains(frameworks, f => (string?)f!["name"] == "Microsoft.NETCore.App" && (string?)f["version"] == runtime);
        }

        // ... and the one the bundled runtime itself carries ("10.0.12-servicing.N+commit" for a release runtime).
        var coreLib = System.Diagnostics.FileVersionInfo.GetVersionInfo(Path.Combine(lib, "System.Private.CoreLib.dll")).ProductVersion ?? string.Empty;
        Assert.Equal(runtime, coreLib.Split('+')[0].Split('-')[0]);

        // The runtime packs the publish bundled, with the SHA-512 NuGet recorded when it downloaded them.
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } env ? env
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var packs = manifest["runtime_packs"]!.AsArray();
        Assert.Contains(packs, p => (string?)p!["id"] == "Microsoft.NETCore.App.Runtime.linux-x64" && (string?)p["version"] == runtime);
        Assert.Contains(packs, p => (string?)p!["id"] == "Microsoft.AspNetCore.App.Runtime.linux-x64");
        foreach (var p in packs)
        {
            var id = ((string)p!["id"]!).ToLowerInvariant();
            var version = (string)p["version"]!;
            var sha512 = Path.Combine(cache, id, version, $"{id}.{version}.nupkg.sha512");
            Assert.True(File.Exists(sha512), "not in the NuGet cache: " + sha512);
            Assert.Equal(Convert.ToHexStringLower(Convert.FromBase64String(File.ReadAllText(sha512).Trim())), (string?)p["content_sha512"]);
        }
    }

    [Fact]
    public void SHA256SUMS_names_the_published_files_and_sha256sum_accepts_it()
    {
        var built = release.Require();
        var lines = File.ReadAllLines(built.Sums);
        Assert.Equal(
            built.Outputs.Where(n => n != "SHA256SUMS").Order(StringComparer.Ordinal),
            lines.Select(l => l.Split("  ", 2)[1]).Order(StringComparer.Ordinal));
        var check = ProcessRunner.Run("sha256sum", ["--check", "--strict", "SHA256SUMS"], workingDirectory: built.OutA);
        Assert.True(check.ExitCode == 0, check.ToString());

        // The digest the programs print is the manifest's line here.
        Assert.Contains(lines, l => l == $"{Sha256(built.Manifest)}  release-manifest.json");
    }

    [Fact]
    public void The_SBOM_is_valid_CycloneDX_and_names_every_component_with_its_hashes()
    {
        var built = release.Require();
        var validation = ValidateSbom(built.Sbom);
        Assert.True(validation.ExitCode == 0, "the CycloneDX library rejects the SBOM:\n" + validation);
        Assert.Contains("\"valid\":true", validation.StdOut, StringComparison.Ordinal);

        // The same validator rejects a broken copy, so its verdict above means something.
        using var dir = TestEnvironment.CreateTempDir("sbom");
        var broken = JsonNode.Parse(File.ReadAllBytes(built.Sbom))!;
        broken["components"]![0]!["hashes"]![0]!["alg"] = "SHA-257";
        var brokenPath = Path.Combine(dir.Path, "broken.cdx.json");
        File.WriteAllText(brokenPath, broken.ToJsonString());
        var refused = ValidateSbom(brokenPath);
        Assert.True(refused.ExitCode == 1, "a component hash with an unknown algorithm passes:\n" + refused);

        // Installed in the package, byte for byte the published one.
        Run("dpkg-deb", "-x", built.Deb, dir.Path);
        Assert.Equal(File.ReadAllBytes(built.Sbom), File.ReadAllBytes(Path.Combine(dir.Path, "usr", "share", "doc", "offline-signer", "sbom.cdx.json")));

        using var doc = JsonDocument.Parse(File.ReadAllBytes(built.Sbom));
        var sbom = doc.RootElement;
        Assert.Equal("CycloneDX", sbom.GetProperty("bomFormat").GetString());
        Assert.Equal("1.5", sbom.GetProperty("specVersion").GetString());
        Assert.Matches("^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", sbom.GetProperty("serialNumber").GetString());
        var metadata = sbom.GetProperty("metadata");
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(built.SourceDateEpoch), DateTimeOffset.Parse(metadata.GetProperty("timestamp").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        var main = metadata.GetProperty("component");
        Assert.Equal(built.Version, main.GetProperty("version").GetString());
        Assert.Contains(main.GetProperty("properties").EnumerateArray(), p => p.GetProperty("name").GetString() == "offline-signer:commit" && p.GetProperty("value").GetString() == built.Commit);

        var components = sbom.GetProperty("components").EnumerateArray().ToList();
        var refs = components.Select(c => c.GetProperty("bom-ref").GetString()!).ToList();
        Assert.Equal(refs.Count, refs.Distinct(StringComparer.Ordinal).Count());

        // Every package and runtime pack of the manifest, with the same SHA-512 and a package URL.
        var manifest = JsonNode.Parse(File.ReadAllBytes(built.Manifest))!;
        foreach (var p in manifest["packages"]!.AsArray().Concat(manifest["runtime_packs"]!.AsArray()))
        {
            var purl = $"pkg:nuget/{(string?)p!["id"]}@{(string?)p["version"]}";
            var c = Assert.Single(components, c => c.TryGetProperty("purl", out var u) && u.GetString() == purl);
            Assert.Equal((string?)p["content_sha512"], c.GetProperty("hashes").EnumerateArray().Single(h => h.GetProperty("alg").GetString() == "SHA-512").GetProperty("content").GetString());
        }

        // The programs and our libraries, with the SHA-256 of the installed assemblies.
        var lib = Path.Combine(dir.Path, "usr", "lib", "offline-signer");
        foreach (var name in new[] { "offline-signerd", "offline-signer", "OfflineSigner.Tuf", "OfflineSigner.Signing", "OfflineSigner.Pkcs11", "OfflineSigner.Protocol", "OfflineSigner.Audit" })
        {
            var c = Assert.Single(components, c => c.GetProperty("name").GetString() == name);
            Assert.Equal(Sha256(Path.Combine(lib, name + ".dll")), c.GetProperty("hashes")[0].GetProperty("content").GetString());
        }

        // The dependency graph names only components it has, and reaches every component from the package.
        var known = refs.Append(main.GetProperty("bom-ref").GetString()!).ToHashSet(StringComparer.Ordinal);
        var edges = sbom.GetProperty("dependencies").EnumerateArray().ToDictionary(d => d.GetProperty("ref").GetString()!, d => d.GetProperty("dependsOn").EnumerateArray().Select(x => x.GetString()!).ToList(), StringComparer.Ordinal);
        Assert.All(edges, e => Assert.All(e.Value.Append(e.Key), r => Assert.Contains(r, known)));
        var reached = new HashSet<string>(StringComparer.Ordinal);
        var walk = new Stack<string>([main.GetProperty("bom-ref").GetString()!]);
        while (walk.TryPop(out var r))
        {
            if (reached.Add(r) && edges.TryGetValue(r, out var next))
            {
                next.ForEach(walk.Push);
            }
        }

        var unreached = components.Where(c => !c.TryGetProperty("scope", out var scope) || scope.GetString() != "excluded")
            .Select(c => c.GetProperty("bom-ref").GetString()!).Where(r => !reached.Contains(r)).ToList();
        Assert.True(unreached.Count == 0, "components the package does not reach: " + string.Join(", ", unreached));
    }

    /// <summary>Every file of <paramref name="root"/> is in the manifest with its hash, size and mode, and nothing else is.</summary>
    private static void AssertTreeMatches(JsonNode manifest, string root, string? exclude)
    {
        var listed = manifest["files"]!.AsArray().ToDictionary(f => (string)f!["path"]!, f => f!, StringComparer.Ordinal);
        var present = new List<string>();
        foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(root, path);
            var info = new FileInfo(path);
            if ((exclude is not null && (rel == exclude || rel.StartsWith(exclude + "/", StringComparison.Ordinal))) || (Directory.Exists(path) && info.LinkTarget is null) || rel == ManifestPath)
            {
                continue;
            }

            present.Add(rel);
            Assert.True(listed.TryGetValue(rel, out var entry), $"{rel} is in {root} but not in the manifest");
            if (info.LinkTarget is { } target)
            {
                Assert.Equal((string?)entry!["symlink"], target);
                continue;
            }

            Assert.Equal((string?)entry!["sha256"], Sha256(path));
            Assert.Equal((long)entry["size"]!, info.Length);
            Assert.Equal((string?)entry["mode"], Convert.ToString((int)File.GetUnixFileMode(path), 8).PadLeft(4, '0'));
        }

        var missing = listed.Keys.Except(present, StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, $"in the manifest but not in {root}: {string.Join(", ", missing)}");
    }

    private static ProcessResult ValidateSbom(string path)
    {
        var peers = TestEnvironment.RequireNodeModule("@cyclonedx/cyclonedx-library");
        TestEnvironment.RequireNodeModule("ajv");
        var node = TestEnvironment.RequireTool("node", "Node.js 20 or newer");
        return ProcessRunner.Run(node, [Path.Combine(peers, "cyclonedx-validate.mjs"), path], TimeSpan.FromMinutes(2), workingDirectory: peers);
    }

    private static void Run(string tool, params string[] args)
    {
        var result = ProcessRunner.Run(tool, args, TimeSpan.FromMinutes(5));
        Assert.True(result.ExitCode == 0, $"{tool} {string.Join(' ', args)}: {result}");
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
