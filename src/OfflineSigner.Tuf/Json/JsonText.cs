using System.Buffers;
using System.Globalization;
using System.Text;

namespace OfflineSigner.Tuf.Json;

/// <summary>
/// Standard JSON text (RFC 8259) for files other programs read: keys sorted as in canonical JSON so output is
/// deterministic, control characters escaped (canonical JSON writes them raw, which strict JSON readers such as
/// Python's json and JavaScript's JSON.parse refuse), everything else as UTF-8.
/// </summary>
public static class JsonText
{
    /// <summary>The JSON text of a value, compact or indented by two spaces.</summary>
    public static byte[] Serialize(JsonNode value, bool indented = false)
    {
        ArgumentNullException.ThrowIfNull(value);
        var w = new ArrayBufferWriter<byte>(4096);
        Write(value, w, indented ? 0 : -1);
        if (indented)
        {
            Put(w, (byte)'\n');
        }

        return w.WrittenSpan.ToArray();
    }

    private static void Write(JsonNode value, ArrayBufferWriter<byte> w, int depth)
    {
        switch (value)
        {
            case JsonObject obj:
                var props = obj.Properties.OrderBy(p => p.Key, CanonicalJson.KeyComparer).ToList();
                Put(w, (byte)'{');
                for (var i = 0; i < props.Count; i++)
                {
                    if (i > 0)
                    {
                        Put(w, (byte)',');
                    }

                    NewLine(w, depth < 0 ? -1 : depth + 1);
                    WriteString(props[i].Key, w);
                    Put(w, (byte)':');
                    if (depth >= 0)
                    {
                        Put(w, (byte)' ');
                    }

                    Write(props[i].Value, w, depth < 0 ? -1 : depth + 1);
                }

                if (props.Count > 0)
                {
                    NewLine(w, depth);
                }

                Put(w, (byte)'}');
                break;
            case JsonArray arr:
                Put(w, (byte)'[');
                for (var i = 0; i < arr.Count; i++)
                {
                    if (i > 0)
                    {
                        Put(w, (byte)',');
                    }

                    NewLine(w, depth < 0 ? -1 : depth + 1);
                    Write(arr[i], w, depth < 0 ? -1 : depth + 1);
                }

                if (arr.Count > 0)
                {
                    NewLine(w, depth);
                }

                Put(w, (byte)']');
                break;
            case JsonString s:
                WriteString(s.Value, w);
                break;
            default:
                // Integers, booleans and null are written the same way as in canonical JSON.
                CanonicalJson.Write(value, w);
                break;
        }
    }

    private static void NewLine(ArrayBufferWriter<byte> w, int depth)
    {
        if (depth < 0)
        {
            return;
        }

        Put(w, (byte)'\n');
        for (var i = 0; i < depth * 2; i++)
        {
            Put(w, (byte)' ');
        }
    }

    private static void WriteString(string s, ArrayBufferWriter<byte> w)
    {
        var sb = new StringBuilder(s.Length + 2);
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20)
                    {
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        sb.Append('"');
        var bytes = Encoding.UTF8.GetBytes(sb.ToString());
        bytes.CopyTo(w.GetSpan(bytes.Length));
        w.Advance(bytes.Length);
    }

    private static void Put(ArrayBufferWriter<byte> w, byte b)
    {
        w.GetSpan(1)[0] = b;
        w.Advance(1);
    }
}
