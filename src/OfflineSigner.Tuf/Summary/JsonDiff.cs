using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Tuf;

/// <summary>A structural difference between two JSON trees, as a list of changed paths.</summary>
public static class JsonDiff
{
    /// <summary>Every path where <paramref name="before"/> and <paramref name="after"/> differ, with a short description.</summary>
    public static IReadOnlyList<string> Diff(JsonNode? before, JsonNode? after, string path)
    {
        var changes = new List<string>();
        Walk(before, after, path, changes);
        return changes;
    }

    private static void Walk(JsonNode? a, JsonNode? b, string path, List<string> changes)
    {
        if (JsonNode.DeepEquals(a, b))
        {
            return;
        }

        if (a is null)
        {
            changes.Add($"{path} added: {Short(b!)}");
            return;
        }

        if (b is null)
        {
            changes.Add($"{path} removed (was {Short(a)})");
            return;
        }

        if (a is JsonObject oa && b is JsonObject ob)
        {
            foreach (var key in oa.Keys.Union(ob.Keys).OrderBy(k => k, CanonicalJson.KeyComparer))
            {
                oa.TryGetValue(key, out var va);
                ob.TryGetValue(key, out var vb);
                Walk(va, vb, Fields.Child(path, key), changes);
            }

            return;
        }

        if (a is JsonArray aa && b is JsonArray ab && aa.Count == ab.Count)
        {
            for (var i = 0; i < aa.Count; i++)
            {
                Walk(aa[i], ab[i], Fields.Index(path, i), changes);
            }

            return;
        }

        changes.Add($"{path} changed: {Short(a)} -> {Short(b)}");
    }

    private static string Short(JsonNode n)
    {
        var s = n.ToString();
        return s.Length <= 120 ? s : s[..117] + "...";
    }
}
