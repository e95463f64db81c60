using System.Diagnostics;
using Xunit;

namespace OfflineSigner.Tests.Shared;

/// <summary>Where the repository, the public vectors and the peer tools are, and skips when one is missing.</summary>
internal static class TestEnvironment
{
    private static readonly Lazy<string> RepoRootLazy = new(FindRepoRoot);

    /// <summary>The repository's top folder (the one holding OfflineSigner.sln).</summary>
    public static string RepoRoot => RepoRootLazy.Value;

    /// <summary>../shared next to the repository, or null when it is not there.</summary>
    public static string? SharedDir
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("OFFLINESIGNER_SHARED_DIR");
            if (!string.IsNullOrEmpty(env) && Directory.Exists(env))
            {
                return Path.GetFullPath(env);
            }

            var candidate = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));
            return Directory.Exists(candidate) ? candidate : null;
        }
    }

    /// <summary>A folder under ../shared/vectors; skips the test when the public vectors are absent.</summary>
    public static string RequireVectors(string relative)
    {
        var shared = SharedDir;
        var path = shared is null ? null : Path.Combine(shared, "vectors", relative);
        if (path is null || (!Directory.Exists(path) && !File.Exists(path)))
        {
            Assert.Skip($"public test vectors not found (../shared/vectors/{relative}); they are other projects' data and are not part of this repository");
        }

        return path!;
    }

    /// <summary>A file or folder under ../shared/data; skips the test when absent.</summary>
    public static string RequireSharedData(string relative)
    {
        var shared = SharedDir;
        var path = shared is null ? null : Path.Combine(shared, "data", relative);
        if (path is null || (!Directory.Exists(path) && !File.Exists(path)))
        {
            Assert.Skip($"public data not found (../shared/data/{relative})");
        }

        return path!;
    }

    /// <summary>The absolute path of an executable on PATH (or an absolute path that exists); skips the test otherwise.</summary>
    public static string RequireTool(string name, string installHint)
    {
        var found = FindTool(name);
        if (found is null)
        {
            Assert.Skip($"{name} is not installed ({installHint}); scripts/setup.sh installs it");
        }

        return found!;
    }

    /// <summary>The dotnet host to run the built programs with: the one `dotnet test` runs under, else the one on PATH.</summary>
    public static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>The absolute path of an executable, or null.</summary>
    public static string? FindTool(string name)
    {
        if (Path.IsPathRooted(name))
        {
            return File.Exists(name) ? name : null;
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Whether Debian's python3 can import a module; skips the test otherwise.</summary>
    public static string RequirePythonModule(string module, string debianPackage)
    {
        const string python = "/usr/bin/python3";
        if (!File.Exists(python))
        {
            Assert.Skip("/usr/bin/python3 is not installed");
        }

        var result = ProcessRunner.Run(python, ["-c", $"import {module}"], timeout: TimeSpan.FromSeconds(60));
        if (result.ExitCode != 0)
        {
            Assert.Skip($"python module {module} is not installed (Debian package {debianPackage}); scripts/setup.sh installs it");
        }

        return python;
    }

    /// <summary>The node_modules folder of tests/peers; skips the test when `npm ci` has not run there.</summary>
    public static string RequireNodeModule(string module)
    {
        var dir = Path.Combine(RepoRoot, "tests", "peers", "node_modules", module);
        if (!Directory.Exists(dir))
        {
            Assert.Skip($"npm module {module} is not installed in tests/peers (run `npm ci` there; scripts/setup.sh does)");
        }

        RequireTool("node", "Node.js");
        return Path.Combine(RepoRoot, "tests", "peers");
    }

    /// <summary>A fresh temporary folder that the returned handle deletes.</summary>
    public static TempDir CreateTempDir(string prefix = "offsig") => new(prefix);

    private static string FindRepoRoot()
    {
        var recorded = System.Reflection.Assembly.GetExecutingAssembly()
            .GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .OfType<System.Reflection.AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "OfflineSigner.RepoRoot")?.Value;
        if (recorded is not null && File.Exists(Path.Combine(recorded, "OfflineSigner.sln")))
        {
            return recorded;
        }

        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OfflineSigner.sln")))
            {
                return dir.FullName;
            }

            dir = dir.Parent;
        }

        // Artifacts may live outside the tree (OFFLINESIGNER_ARTIFACTS); fall back to the working directory.
        dir = new DirectoryInfo(Directory.GetCurrentDirectory());
        while (dir is not null)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OfflineSigner.sln")))
            {
                return dir.FullName;
            }

            dir = dir.Parent;
        }

        throw new InvalidOperationException("cannot find OfflineSigner.sln above " + AppContext.BaseDirectory);
    }
}

/// <summary>A temporary folder removed on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir(string prefix)
    {
        Path = Directory.CreateTempSubdirectory(prefix + "-").FullName;
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A process the test started may still hold a file; the OS temp cleaner takes the rest.
        }
        catch (UnauthorizedAccessException)
        {
            // As above.
        }
    }
}

/// <summary>The result of a finished child process.</summary>
internal sealed record ProcessResult(int ExitCode, string StdOut, string StdErr)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{StdOut}\nstderr:\n{StdErr}";
}

/// <summary>Runs peer tools with arguments as a list (never through a shell) and a time limit.</summary>
internal static class ProcessRunner
{
    public static ProcessResult Run(
        string fileName,
        IEnumerable<string> arguments,
        TimeSpan? timeout = null,
        IDictionary<string, string?>? environment = null,
        string? workingDirectory = null,
        byte[]? stdin = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        if (workingDirectory is not null)
        {
            psi.WorkingDirectory = workingDirectory;
        }

        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                if (v is null)
                {
                    psi.Environment.Remove(k);
                }
                else
                {
                    psi.Environment[k] = v;
                }
            }
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + fileName);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            p.StandardInput.BaseStream.Write(stdin);
        }

        p.StandardInput.Close();
        if (!p.WaitForExit(timeout ?? TimeSpan.FromMinutes(2)))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException($"{fileName} {string.Join(' ', psi.ArgumentList)} did not finish in time");
        }

        return new ProcessResult(p.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }
}
