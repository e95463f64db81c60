using System.Diagnostics;
using System.Text;
using System.Text.Json;
using OfflineSigner.Tests.Shared;

namespace OfflineSigner.Interop.Tests.Fixtures;

/// <summary>
/// Real gRPC clients nobody here wrote, driven through small scripts in tests/peers: <see cref="GrpcPeer.GrpcJs"/>
/// (@grpc/grpc-js with @grpc/proto-loader, grpc-call.mjs) and <see cref="GrpcPeer.Python"/> (Debian python3-grpcio
/// with messages built from the .proto files by protoc at run time, grpc_call.py). Both take a target
/// <c>unix:///path.sock</c> or <c>127.0.0.1:PORT</c>, a method <c>package.Service/Method</c> and a request in JSON
/// (protobuf field names, bytes as base64). Skips the test when the peer is not installed.
/// </summary>
internal static class GrpcPeers
{
    /// <summary>The repository's protos/ folder (the daemon's contract).</summary>
    public static string ProtoRoot => Path.Combine(TestEnvironment.RepoRoot, "protos");

    /// <summary>Every .proto file under <see cref="ProtoRoot"/>, relative to it.</summary>
    public static IReadOnlyList<string> ProjectProtos =>
        [.. Directory.GetFiles(ProtoRoot, "*.proto", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(ProtoRoot, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal)];

    /// <summary>Calls one unary or server-streaming method.</summary>
    public static GrpcCallResult Call(
        GrpcPeer peer,
        string target,
        string protoRoot,
        IEnumerable<string> protos,
        string method,
        string requestJson = "{}",
        IReadOnlyDictionary<string, string>? metadata = null,
        TimeSpan? deadline = null)
    {
        var args = new List<string> { "--target", target, "--method", method, "--request", requestJson };
        foreach (var (k, v) in metadata ?? new Dictionary<string, string>())
        {
            args.AddRange(["--metadata", $"{k}={v}"]);
        }

        var d = deadline ?? TimeSpan.FromSeconds(30);
        args.AddRange(peer == GrpcPeer.GrpcJs
            ? ["--deadline-ms", ((long)d.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture)]
            : ["--deadline", d.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        var result = Run(peer, protoRoot, protos, args, d + TimeSpan.FromMinutes(1));
        using var doc = JsonDocument.Parse(result.StdOut);
        var root = doc.RootElement;
        return new GrpcCallResult(
            root.GetProperty("ok").GetBoolean(),
            root.GetProperty("code").GetInt32(),
            root.GetProperty("code_name").GetString()!,
            root.GetProperty("details").GetString() ?? string.Empty,
            [.. root.GetProperty("responses").EnumerateArray().Select(e => e.Clone())],
            result);
    }

    /// <summary>The methods a peer reads from the given .proto files: (method, request type, response type, server streaming).</summary>
    public static IReadOnlyList<GrpcMethodInfo> List(GrpcPeer peer, string protoRoot, IEnumerable<string> protos)
    {
        var result = Run(peer, protoRoot, protos, ["--list"], TimeSpan.FromMinutes(1));
        using var doc = JsonDocument.Parse(result.StdOut);
        return [.. doc.RootElement.GetProperty("methods").EnumerateArray().Select(m => new GrpcMethodInfo(
            m.GetProperty("method").GetString()!,
            m.GetProperty("request").GetString()!,
            m.GetProperty("response").GetString()!,
            m.GetProperty("server_streaming").GetBoolean()))
            .OrderBy(m => m.Method, StringComparer.Ordinal)];
    }

    private static ProcessResult Run(GrpcPeer peer, string protoRoot, IEnumerable<string> protos, List<string> args, TimeSpan timeout)
    {
        string exe;
        var full = new List<string>();
        if (peer == GrpcPeer.GrpcJs)
        {
            TestEnvironment.RequireNodeModule("@grpc/grpc-js");
            TestEnvironment.RequireNodeModule("@grpc/proto-loader");
            exe = TestEnvironment.RequireTool("node", "Node.js");
            full.Add(Peers.Script("grpc-call.mjs"));
        }
        else
        {
            exe = RequirePythonGrpc();
            full.Add(Peers.Script("grpc_call.py"));
        }

        full.AddRange(["--proto-root", protoRoot]);
        foreach (var p in protos)
        {
            full.AddRange(["--proto", p]);
        }

        full.AddRange(args);
        var result = ProcessRunner.Run(exe, full, timeout, workingDirectory: Peers.Dir);
        if (result.ExitCode is not (0 or 1))
        {
            throw new PeerToolException($"{peer} gRPC peer could not run\n{result}");
        }

        return result;
    }

    /// <summary>Skips unless Debian's python3 has grpcio and protobuf and protoc is installed.</summary>
    public static string RequirePythonGrpc()
    {
        TestEnvironment.RequirePythonModule("grpc", "python3-grpcio");
        TestEnvironment.RequirePythonModule("google.protobuf", "python3-protobuf");
        TestEnvironment.RequireTool("protoc", "Debian package protobuf-compiler");
        return Peers.Python;
    }
}

/// <summary>Which real gRPC implementation makes the call.</summary>
public enum GrpcPeer
{
    /// <summary>@grpc/grpc-js (npm).</summary>
    GrpcJs,

    /// <summary>python3-grpcio (Debian).</summary>
    Python,
}

/// <summary>The status and messages of one call. <see cref="Code"/> is the numeric gRPC status (0 = OK).</summary>
internal sealed record GrpcCallResult(bool Ok, int Code, string CodeName, string Details, IReadOnlyList<JsonElement> Responses, ProcessResult Process)
{
    public override string ToString() => Process.ToString();
}

/// <summary>A method as a peer read it from the .proto files.</summary>
internal sealed record GrpcMethodInfo(string Method, string Request, string Response, bool ServerStreaming);

/// <summary>
/// A python3-grpcio server of tests/peers/testdata/echo.proto (peertest.v1.Echo) on a Unix socket, to prove the
/// client peers; started by <see cref="Start"/>, killed by PID on dispose.
/// </summary>
internal sealed class PythonEchoServer : IDisposable
{
    private readonly Process process;
    private readonly TempDir dir;

    private PythonEchoServer(Process process, TempDir dir, string socket)
    {
        this.process = process;
        this.dir = dir;
        Target = "unix://" + socket;
    }

    /// <summary>unix:///.../echo.sock</summary>
    public string Target { get; }

    public static string ProtoRoot => Path.Combine(Peers.Dir, "testdata");

    public static IReadOnlyList<string> Protos => ["echo.proto"];

    public static PythonEchoServer Start()
    {
        var python = GrpcPeers.RequirePythonGrpc();
        var dir = TestEnvironment.CreateTempDir("grpc-echo");
        var socket = Path.Combine(dir.Path, "echo.sock");
        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Peers.Script("grpc_echo_server.py"));
        psi.ArgumentList.Add("--listen");
        psi.ArgumentList.Add("unix://" + socket);
        var process = Process.Start(psi) ?? throw new PeerToolException("cannot start grpc_echo_server.py");
        var server = new PythonEchoServer(process, dir, socket);
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        var ready = process.StandardOutput.ReadLineAsync();
        if (!ready.Wait(TimeSpan.FromSeconds(30)) || ready.Result is null || !ready.Result.StartsWith("READY", StringComparison.Ordinal))
        {
            server.Dispose();
            lock (stderr)
            {
                throw new PeerToolException("grpc_echo_server.py did not become ready:\n" + stderr);
            }
        }

        return server;
    }

    public void Dispose()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        process.Dispose();
        dir.Dispose();
    }
}
