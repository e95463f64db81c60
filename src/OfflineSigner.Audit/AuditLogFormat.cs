// Implements docs/audit-log.md: the line format shared by the writer and the verifier.
using System.Text;
using OfflineSigner.Tuf.Json;

namespace OfflineSigner.Audit;

internal static class AuditLogFormat
{
    public const string GenesisPrev = ChainedLine.GenesisPrev;

    public static string EventName(AuditEventKind kind)
    {
        string name = kind.ToString();
        var sb = new StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                sb.Append('_');
            }

            sb.Append(char.ToLowerInvariant(name[i]));
        }

        return sb.ToString();
    }

    public static byte[] Encode(long seq, DateTimeOffset time, string prev, AuditEvent e)
    {
        var o = new JsonObject();
        AddIf(o, "key_id", e.KeyId);
        AddIf(o, "key_uri", e.KeyUri);
        AddIf(o, "role", e.Role);
        if (e.Version is long v)
        {
            o.Add("version", v);
        }

        AddIf(o, "payload_sha256", e.PayloadSha256);
        AddIf(o, "backend", e.Backend);
        AddIf(o, "device_serial", e.DeviceSerial);
        if (e.CallerUid is uint uid)
        {
            o.Add("caller_uid", (long)uid);
        }

        AddIf(o, "detail", e.Detail);
        return ChainedLine.Encode(seq, time, prev, EventName(e.Kind), o);
    }

    public static string Hash(ReadOnlySpan<byte> line) => ChainedLine.Hash(line);

    private static void AddIf(JsonObject o, string key, string? value)
    {
        if (value is not null)
        {
            o.Add(key, value);
        }
    }
}
