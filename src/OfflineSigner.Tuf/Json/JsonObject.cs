using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace OfflineSigner.Tuf.Json;

/// <summary>
/// A JSON object: unique string keys, kept in the order they were added (canonical output sorts them).
/// </summary>
public sealed class JsonObject : JsonNode, IEnumerable<KeyValuePair<string, JsonNode>>
{
    // Small objects (most of metadata) are searched linearly; an index is built only for large ones.
    private const int IndexThreshold = 8;

    private readonly List<KeyValuePair<string, JsonNode>> properties;
    private Dictionary<string, int>? index;

    /// <summary>An empty object.</summary>
    public JsonObject()
    {
        properties = [];
    }

    internal JsonObject(int capacity)
    {
        properties = new List<KeyValuePair<string, JsonNode>>(capacity);
    }

    /// <summary>An object of members the parser has already checked for duplicates, at its exact size.</summary>
    internal JsonObject(ReadOnlySpan<KeyValuePair<string, JsonNode>> members, Dictionary<string, int>? index)
    {
        properties = new List<KeyValuePair<string, JsonNode>>(members.Length);
        properties.AddRange(members);
        this.index = index;
    }

    /// <inheritdoc/>
    public override JsonKind Kind => JsonKind.Object;

    /// <summary>How many members the object has.</summary>
    public int Count => properties.Count;

    /// <summary>The members in insertion order.</summary>
    public IReadOnlyList<KeyValuePair<string, JsonNode>> Properties => properties;

    /// <summary>The members in insertion order, without a copy or an enumerator (for the encoder).</summary>
    internal ReadOnlySpan<KeyValuePair<string, JsonNode>> PropertySpan => CollectionsMarshal.AsSpan(properties);

    /// <summary>The keys in insertion order.</summary>
    public IEnumerable<string> Keys => properties.Select(p => p.Key);

    /// <summary>Gets or sets a member. Getting a missing key throws <see cref="KeyNotFoundException"/>.</summary>
    public JsonNode this[string key]
    {
        get => TryGetValue(key, out var v) ? v : throw new KeyNotFoundException(key);
        set => Set(key, value);
    }

    /// <summary>Adds a member; throws when the key is already present (JSON objects used as metadata never repeat keys).</summary>
    public void Add(string key, JsonNode value)
    {
        if (!TryAdd(key, value))
        {
            throw new ArgumentException($"duplicate key \"{key}\"", nameof(key));
        }
    }

    /// <summary>Adds a member unless the key is already present.</summary>
    public bool TryAdd(string key, JsonNode value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (IndexOf(key) >= 0)
        {
            return false;
        }

        index?.Add(key, properties.Count);
        properties.Add(new(key, value));
        return true;
    }

    /// <summary>Adds or replaces a member.</summary>
    public void Set(string key, JsonNode value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        var i = IndexOf(key);
        if (i >= 0)
        {
            properties[i] = new(key, value);
        }
        else
        {
            index?.Add(key, properties.Count);
            properties.Add(new(key, value));
        }
    }

    /// <summary>Removes a member; returns whether it was there.</summary>
    public bool Remove(string key)
    {
        var i = IndexOf(key);
        if (i < 0)
        {
            return false;
        }

        properties.RemoveAt(i);
        index = null;
        return true;
    }

    /// <summary>Whether a member with this key exists.</summary>
    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    /// <summary>Looks up a member.</summary>
    public bool TryGetValue(string key, [MaybeNullWhen(false)] out JsonNode value)
    {
        var i = IndexOf(key);
        if (i >= 0)
        {
            value = properties[i].Value;
            return true;
        }

        value = null;
        return false;
    }

    /// <inheritdoc/>
    public override JsonNode DeepClone()
    {
        var copy = new JsonObject(properties.Count);
        foreach (var (k, v) in properties)
        {
            copy.Add(k, v.DeepClone());
        }

        return copy;
    }

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, JsonNode>> GetEnumerator() => properties.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private int IndexOf(string key)
    {
        if (index is null && properties.Count <= IndexThreshold)
        {
            for (var i = 0; i < properties.Count; i++)
            {
                if (string.Equals(properties[i].Key, key, StringComparison.Ordinal))
                {
                    return i;
                }
            }

            return -1;
        }

        return EnsureIndex().TryGetValue(key, out var found) ? found : -1;
    }

    private Dictionary<string, int> EnsureIndex()
    {
        if (index is null)
        {
            index = new Dictionary<string, int>(properties.Count, StringComparer.Ordinal);
            for (var i = 0; i < properties.Count; i++)
            {
                index[properties[i].Key] = i;
            }
        }

        return index;
    }
}
