using System.Globalization;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Tuf;

/// <summary>Typed access to metadata fields; every failure names the field's path.</summary>
internal static class Fields
{
    public static string Child(string path, string name) =>
        name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_')
            ? path + "." + name
            : path + "[\"" + name.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"]";

    public static string Index(string path, int i) => path + "[" + i.ToString(CultureInfo.InvariantCulture) + "]";

    public static JsonNode Require(JsonObject obj, string name, string path) =>
        obj.TryGetValue(name, out var v) ? v : throw new MetadataFormatException(Child(path, name), "required field is missing");

    public static JsonObject AsObject(JsonNode node, string path) =>
        node as JsonObject ?? throw new MetadataFormatException(path, $"expected an object, found {node.KindName}");

    public static JsonArray AsArray(JsonNode node, string path) =>
        node as JsonArray ?? throw new MetadataFormatException(path, $"expected an array, found {node.KindName}");

    public static JsonObject Object(JsonObject obj, string name, string path) =>
        AsObject(Require(obj, name, path), Child(path, name));

    public static JsonObject? OptionalObject(JsonObject obj, string name, string path) =>
        obj.TryGetValue(name, out var v) ? AsObject(v, Child(path, name)) : null;

    public static JsonArray Array(JsonObject obj, string name, string path) =>
        AsArray(Require(obj, name, path), Child(path, name));

    public static string String(JsonObject obj, string name, string path) =>
        AsString(Require(obj, name, path), Child(path, name));

    public static string? OptionalString(JsonObject obj, string name, string path) =>
        obj.TryGetValue(name, out var v) ? AsString(v, Child(path, name)) : null;

    public static string AsString(JsonNode node, string path) =>
        node is JsonString s ? s.Value : throw new MetadataFormatException(path, $"expected a string, found {node.KindName}");

    public static bool Boolean(JsonObject obj, string name, string path)
    {
        var node = Require(obj, name, path);
        return node is JsonBoolean b ? b.Value : throw new MetadataFormatException(Child(path, name), $"expected true or false, found {node.KindName}");
    }

    public static bool? OptionalBoolean(JsonObject obj, string name, string path)
    {
        if (!obj.TryGetValue(name, out var node))
        {
            return null;
        }

        return node is JsonBoolean b ? b.Value : throw new MetadataFormatException(Child(path, name), $"expected true or false, found {node.KindName}");
    }

    /// <summary>An integer between <paramref name="min"/> and <paramref name="max"/>.</summary>
    public static long Integer(JsonObject obj, string name, string path, long min, long max = long.MaxValue) =>
        AsInteger(Require(obj, name, path), Child(path, name), min, max);

    public static long? OptionalInteger(JsonObject obj, string name, string path, long min, long max = long.MaxValue) =>
        obj.TryGetValue(name, out var v) ? AsInteger(v, Child(path, name), min, max) : null;

    public static long AsInteger(JsonNode node, string path, long min, long max = long.MaxValue)
    {
        if (node is not JsonInteger i)
        {
            throw new MetadataFormatException(path, $"expected an integer, found {node.KindName}");
        }

        if (!i.FitsInt64 || i.Int64Value < min || i.Int64Value > max)
        {
            var range = max == long.MaxValue ? $"at least {min}" : $"between {min} and {max}";
            throw new MetadataFormatException(path, $"value {i.Value} out of range (must be {range})");
        }

        return i.Int64Value;
    }

    public static DateTimeOffset Time(JsonObject obj, string name, string path)
    {
        var text = String(obj, name, path);
        return Rfc3339.TryParse(text, out var t)
            ? t
            : throw new MetadataFormatException(Child(path, name), $"\"{text}\" is not an RFC 3339 date-time");
    }

    public static List<string> StringList(JsonObject obj, string name, string path, bool unique)
    {
        var arr = Array(obj, name, path);
        var list = new List<string>(arr.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < arr.Count; i++)
        {
            var s = AsString(arr[i], Index(Child(path, name), i));
            if (unique && !seen.Add(s))
            {
                throw new MetadataFormatException(Index(Child(path, name), i), $"\"{s}\" is listed twice");
            }

            list.Add(s);
        }

        return list;
    }

    public static JsonArray ToArray(IEnumerable<string> values)
    {
        var arr = new JsonArray();
        foreach (var v in values)
        {
            arr.Add(new JsonString(v));
        }

        return arr;
    }
}
