using System.Text;
using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf.Json;
using Xunit;
using StjNode = System.Text.Json.Nodes.JsonNode;
using StjObject = System.Text.Json.Nodes.JsonObject;

namespace OfflineSigner.Signing.Tests;

/// <summary>Runs peers/verify_signatures.py with Debian's python3-cryptography and python3-securesystemslib.</summary>
internal static class PythonPeer
{
    public static StjObject Run(StjObject request)
    {
        var python = TestEnvironment.RequirePythonModule("cryptography", "python3-cryptography");
        TestEnvironment.RequirePythonModule("securesystemslib", "python3-securesystemslib");
        var script = Path.Combine(AppContext.BaseDirectory, "peers", "verify_signatures.py");
        var result = ProcessRunner.Run(python, [script], stdin: Encoding.UTF8.GetBytes(request.ToJsonString()));
        Assert.True(result.ExitCode == 0, result.ToString());
        return (StjObject)StjNode.Parse(result.StdOut)!;
    }

    /// <summary>Our JSON tree as ordinary (escaped) JSON for the peer.</summary>
    public static StjNode? ToStj(JsonNode node) => node switch
    {
        JsonObject o => new StjObject(o.Select(p => KeyValuePair.Create(p.Key, ToStj(p.Value)))),
        JsonArray a => new System.Text.Json.Nodes.JsonArray([.. a.Select(ToStj)]),
        JsonString s => System.Text.Json.Nodes.JsonValue.Create(s.Value),
        JsonInteger i => System.Text.Json.Nodes.JsonValue.Create(i.Int64Value),
        JsonBoolean b => System.Text.Json.Nodes.JsonValue.Create(b.Value),
        _ => null,
    };
}
