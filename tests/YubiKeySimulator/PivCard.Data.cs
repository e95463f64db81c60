namespace OfflineSigner.YubiKeySimulator;

public sealed partial class PivCard
{
    // The discovery object (SP 800-73-4 part 1 §3.3.2): the PIV AID and the PIN usage policy (PIV PIN only).
    private static readonly byte[] Discovery = Convert.FromHexString("7E124F0BA0000003080000100001005F2F024000");

    private static int? ObjectId(byte[] data)
    {
        if (Tlvs(data) is not { } fields || !fields.TryGetValue(0x5C, out var id) || id.Length is 0 or > 3)
        {
            return null;
        }

        var value = 0;
        foreach (var b in id)
        {
            value = (value << 8) | b;
        }

        return value;
    }

    private (byte[], ushort) GetData(Command c)
    {
        if (c.P1 != 0x3F || c.P2 != 0xFF)
        {
            return ([], WrongP1P2);
        }

        if (ObjectId(c.Data) is not { } id)
        {
            return ([], IncorrectData);
        }

        if (id == 0x7E)
        {
            return (Discovery, Ok);
        }

        return _state.Objects.TryGetValue(id, out var content) ? (Tlv(0x53, content), Ok) : ([], FileNotFound);
    }

    private (byte[], ushort) PutData(Command c)
    {
        if (c.P1 != 0x3F || c.P2 != 0xFF)
        {
            return ([], WrongP1P2);
        }

        if (!_managementAuthenticated)
        {
            return ([], SecurityStatus);
        }

        if (ObjectId(c.Data) is not { } id || Tlvs(c.Data) is not { } fields || !fields.TryGetValue(0x53, out var content) || id == 0x7E)
        {
            return ([], IncorrectData);
        }

        if (content.Length == 0)
        {
            _state.Objects.Remove(id);
        }
        else
        {
            _state.Objects[id] = content;
        }

        Save();
        return ([], Ok);
    }
}
