using System.Numerics;

namespace OfflineSigner.Tuf.Json;

/// <summary>The kinds of value canonical JSON allows (no floating point numbers).</summary>
public enum JsonKind
{
    /// <summary>An object: string keys, unique, any order on input, sorted on output.</summary>
    Object,

    /// <summary>An array.</summary>
    Array,

    /// <summary>A string.</summary>
    String,

    /// <summary>An integer of any size.</summary>
    Integer,

    /// <summary>true or false.</summary>
    Boolean,

    /// <summary>null.</summary>
    Null,
}

/// <summary>
/// A JSON value as canonical JSON sees it. The tree keeps every field it was parsed with,
/// so serializing it again gives the same canonical bytes, unknown fields included.
/// </summary>
public abstract class JsonNode
{
    private protected JsonNode()
    {
    }

    /// <summary>What kind of value this is.</summary>
    public abstract JsonKind Kind { get; }

    /// <summary>A short lowercase name of the kind, for error messages.</summary>
    public string KindName => Kind switch
    {
        JsonKind.Object => "object",
        JsonKind.Array => "array",
        JsonKind.String => "string",
        JsonKind.Integer => "integer",
        JsonKind.Boolean => "boolean",
        _ => "null",
    };

    /// <summary>A deep copy of this value.</summary>
    public abstract JsonNode DeepClone();

    /// <summary>The canonical JSON text of this value (for diagnostics; use <see cref="CanonicalJson"/> for bytes).</summary>
    public override string ToString() => System.Text.Encoding.UTF8.GetString(CanonicalJson.Serialize(this));

    /// <summary>Structural equality: same canonical bytes.</summary>
    public static bool DeepEquals(JsonNode? a, JsonNode? b)
    {
        if (ReferenceEquals(a, b))
        {
            return true;
        }

        if (a is null || b is null || a.Kind != b.Kind)
        {
            return false;
        }

        switch (a)
        {
            case JsonString sa:
                return sa.Value == ((JsonString)b).Value;
            case JsonInteger ia:
                return ia.Equals((JsonInteger)b);
            case JsonBoolean ba:
                return ba.Value == ((JsonBoolean)b).Value;
            case JsonNull:
                return true;
            case JsonArray aa:
                var ab = (JsonArray)b;
                if (aa.Count != ab.Count)
                {
                    return false;
                }

                for (var i = 0; i < aa.Count; i++)
                {
                    if (!DeepEquals(aa[i], ab[i]))
                    {
                        return false;
                    }
                }

                return true;
            case JsonObject oa:
                var ob = (JsonObject)b;
                if (oa.Count != ob.Count)
                {
                    return false;
                }

                foreach (var (k, v) in oa)
                {
                    if (!ob.TryGetValue(k, out var w) || !DeepEquals(v, w))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return false;
        }
    }

    /// <summary>Implicit conversion from a string.</summary>
    public static implicit operator JsonNode(string value) => new JsonString(value);

    /// <summary>Implicit conversion from an integer.</summary>
    public static implicit operator JsonNode(long value) => new JsonInteger(value);

    /// <summary>Implicit conversion from a boolean.</summary>
    public static implicit operator JsonNode(bool value) => value ? JsonBoolean.True : JsonBoolean.False;
}

/// <summary>A JSON string.</summary>
public sealed class JsonString(string value) : JsonNode
{
    /// <summary>The string's value (well-formed UTF-16: parsing rejects lone surrogates).</summary>
    public string Value { get; } = value ?? throw new ArgumentNullException(nameof(value));

    /// <inheritdoc/>
    public override JsonKind Kind => JsonKind.String;

    /// <inheritdoc/>
    public override JsonNode DeepClone() => this;
}

/// <summary>A JSON integer of any size.</summary>
public sealed class JsonInteger : JsonNode, IEquatable<JsonInteger>
{
    private readonly long small;
    // A nullable BigInteger field would make every integer node 48 bytes; boxed, the rare large value costs a
    // reference and the common one stays at 24.
    private readonly object? big;

    /// <summary>An integer that fits in 64 bits.</summary>
    public JsonInteger(long value)
    {
        small = value;
    }

    /// <summary>An integer of any size.</summary>
    public JsonInteger(BigInteger value)
    {
        if (value >= long.MinValue && value <= long.MaxValue)
        {
            small = (long)value;
        }
        else
        {
            big = value;
        }
    }

    /// <inheritdoc/>
    public override JsonKind Kind => JsonKind.Integer;

    /// <summary>Whether the value fits in a signed 64-bit integer.</summary>
    public bool FitsInt64 => big is null;

    /// <summary>The value; throws when it does not fit in 64 bits (check <see cref="FitsInt64"/>).</summary>
    public long Int64Value => big is null ? small : throw new OverflowException("integer does not fit in 64 bits");

    /// <summary>The value at any size.</summary>
    public BigInteger Value => big is null ? small : (BigInteger)big;

    /// <inheritdoc/>
    public override JsonNode DeepClone() => this;

    /// <inheritdoc/>
    public bool Equals(JsonInteger? other) => other is not null && Value == other.Value;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as JsonInteger);

    /// <inheritdoc/>
    public override int GetHashCode() => Value.GetHashCode();
}

/// <summary>true or false.</summary>
public sealed class JsonBoolean : JsonNode
{
    /// <summary>true.</summary>
    public static readonly JsonBoolean True = new(true);

    /// <summary>false.</summary>
    public static readonly JsonBoolean False = new(false);

    private JsonBoolean(bool value) => Value = value;

    /// <summary>The value.</summary>
    public bool Value { get; }

    /// <inheritdoc/>
    public override JsonKind Kind => JsonKind.Boolean;

    /// <inheritdoc/>
    public override JsonNode DeepClone() => this;
}

/// <summary>null.</summary>
public sealed class JsonNull : JsonNode
{
    /// <summary>The one null value.</summary>
    public static readonly JsonNull Instance = new();

    private JsonNull()
    {
    }

    /// <inheritdoc/>
    public override JsonKind Kind => JsonKind.Null;

    /// <inheritdoc/>
    public override JsonNode DeepClone() => this;
}
