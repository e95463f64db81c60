using System.Collections;
using System.Runtime.InteropServices;

namespace OfflineSigner.Tuf.Json;

/// <summary>A JSON array.</summary>
public sealed class JsonArray : JsonNode, IReadOnlyList<JsonNode>
{
    private readonly List<JsonNode> items;

    /// <summary>An empty array.</summary>
    public JsonArray()
    {
        items = [];
    }

    /// <summary>An array holding <paramref name="values"/>.</summary>
    public JsonArray(IEnumerable<JsonNode> values)
    {
        items = [.. values];
    }

    internal JsonArray(List<JsonNode> values, bool adopt)
    {
        _ = adopt;
        items = values;
    }

    /// <inheritdoc/>
    public override JsonKind Kind => JsonKind.Array;

    /// <inheritdoc/>
    public int Count => items.Count;

    /// <inheritdoc/>
    public JsonNode this[int index] => items[index];

    /// <summary>The items without a copy or an enumerator (for the encoder).</summary>
    internal ReadOnlySpan<JsonNode> ItemSpan => CollectionsMarshal.AsSpan(items);

    /// <summary>Appends a value.</summary>
    public void Add(JsonNode value) => items.Add(value ?? throw new ArgumentNullException(nameof(value)));

    /// <inheritdoc/>
    public override JsonNode DeepClone() => new JsonArray(items.Select(i => i.DeepClone()));

    /// <inheritdoc/>
    public IEnumerator<JsonNode> GetEnumerator() => items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
