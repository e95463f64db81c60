using OfflineSigner.YubiKey.Apdu;
using OfflineSigner.YubiKey.Tests.Support;
using Xunit;

namespace OfflineSigner.YubiKey.Tests;

/// <summary>ISO/IEC 7816-4 encodings, BER-TLV, and the channel's chaining and GET RESPONSE, byte for byte, with no device.</summary>
public sealed class ApduTests
{
    [Theory]
    [InlineData("", 0, false, "00FD0000")]                       // case 1
    [InlineData("", 256, false, "00FD000000")]                   // case 2S, Le 256 = 00
    [InlineData("", 3, false, "00FD000003")]                     // case 2S
    [InlineData("0102", 0, false, "00FD0000020102")]              // case 3S
    [InlineData("0102", 256, false, "00FD000002010200")]          // case 4S
    [InlineData("", 65536, true, "00FD0000000000")]              // case 2E, Le 65536 = 00 00
    [InlineData("0102", 0, true, "00FD0000000002" + "0102")]      // case 3E
    [InlineData("0102", 65536, true, "00FD00000000020102" + "0000")] // case 4E
    [InlineData("", 0, true, "00FD0000")]                        // case 1 is the same in both forms
    public void Encodes_every_case(string data, int ne, bool extended, string expected)
    {
        var command = new CommandApdu(0x00, 0xFD, 0x00, 0x00, Convert.FromHexString(data), ne);
        Assert.Equal(expected, Convert.ToHexString(command.Encode(extended)));
    }

    [Fact]
    public void Short_form_refuses_long_data_and_asks_for_at_most_256()
    {
        Assert.Throws<ArgumentException>(() => new CommandApdu(0, 0xDB, 0x3F, 0xFF, new byte[256]).Encode(extended: false));
        Assert.Equal("00CB3FFF00", Convert.ToHexString(new CommandApdu(0, 0xCB, 0x3F, 0xFF, default, 65536).Encode(extended: false)));
        Assert.Equal(5 + 255, new CommandApdu(0, 0xDB, 0x3F, 0xFF, new byte[255]).Encode(extended: false).Length);
        Assert.Equal(7 + 300, new CommandApdu(0, 0xDB, 0x3F, 0xFF, new byte[300]).Encode(extended: true).Length);
    }

    [Fact]
    public void Sensitive_encodings_are_wiped()
    {
        var command = new CommandApdu(0, 0x20, 0, 0x80, new byte[] { 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0xFF, 0xFF }, sensitive: true);
        var encoded = command.Encode(extended: false);
        command.Wipe(encoded);
        Assert.All(encoded, b => Assert.Equal(0, b));
    }

    [Theory]
    [InlineData(0, "5300")]
    [InlineData(0x7F, "537F")]
    [InlineData(0x80, "538180")]
    [InlineData(0xFF, "5381FF")]
    [InlineData(0x100, "53820100")]
    [InlineData(0xFFFF, "5382FFFF")]
    public void Tlv_lengths_take_the_shortest_definite_form(int length, string prefix)
    {
        var encoded = BerTlv.Encode(0x53, new byte[length]);
        Assert.StartsWith(prefix, Convert.ToHexString(encoded), StringComparison.Ordinal);
        Assert.Equal(prefix.Length / 2 + length, encoded.Length);
        var (tag, value, size) = BerTlv.Read(encoded);
        Assert.Equal(0x53, tag);
        Assert.Equal(length, value.Length);
        Assert.Equal(encoded.Length, size);
    }

    [Fact]
    public void Tlv_reads_two_byte_tags_and_refuses_bad_encodings()
    {
        var (tag, value, _) = BerTlv.Read(Convert.FromHexString("7F4903860101"));
        Assert.Equal(0x7F49, tag);
        Assert.Equal("860101", Convert.ToHexString(value.Span));
        Assert.Throws<FormatException>(() => BerTlv.Read(Convert.FromHexString("5305010203")));   // truncated
        Assert.Throws<FormatException>(() => BerTlv.Read(Convert.FromHexString("538000")));       // indefinite
        Assert.Throws<FormatException>(() => BerTlv.Read(Convert.FromHexString("538401000000")));  // four length bytes
        Assert.Throws<FormatException>(() => BerTlv.Unwrap(Convert.FromHexString("530100FF"), 0x53)); // trailing byte
        Assert.Throws<FormatException>(() => BerTlv.Unwrap(Convert.FromHexString("5401AA"), 0x53));  // other tag
    }

    [Fact]
    public void Short_commands_are_chained_in_255_byte_parts()
    {
        var data = Enumerable.Range(0, 600).Select(i => (byte)i).ToArray();
        var hex = Convert.ToHexString(data);
        var connection = new ScriptedConnection()
            .Expect("10DB3FFFFF" + hex[..510], "9000")
            .Expect("10DB3FFFFF" + hex[510..1020], "9000")
            .Expect("00DB3FFF5A" + hex[1020..], "9000");
        var channel = new ApduChannel(connection);
        var response = channel.Send(new CommandApdu(0x00, 0xDB, 0x3F, 0xFF, data));
        Assert.True(response.IsSuccess);
        Assert.Equal(3, channel.ApdusSent);
        connection.AssertDone();
    }

    [Fact]
    public void A_chained_part_that_fails_stops_the_command()
    {
        var connection = new ScriptedConnection().Expect("10DB3FFFFF" + new string('0', 510), "6982");
        var channel = new ApduChannel(connection);
        var response = channel.Send(new CommandApdu(0x00, 0xDB, 0x3F, 0xFF, new byte[300]));
        Assert.Equal(StatusWords.SecurityStatusNotSatisfied, response.StatusWord);
        connection.AssertDone();
    }

    [Fact]
    public void Get_response_collects_the_parts_of_a_long_answer()
    {
        var connection = new ScriptedConnection()
            .Expect("00F99C0000", "AABB" + "6100")
            .Expect("00C0000000", "CCDD" + "6103")
            .Expect("00C0000003", "EEFF11" + "9000");
        var channel = new ApduChannel(connection);
        var response = channel.Send(new CommandApdu(0x00, 0xF9, 0x9C, 0x00, default, 256));
        Assert.Equal("AABBCCDDEEFF11", Convert.ToHexString(response.Data));
        Assert.Equal(StatusWords.Success, response.StatusWord);
        Assert.Equal(3, channel.ApdusSent);
    }

    [Fact]
    public void Extended_commands_go_in_one_piece()
    {
        var data = new byte[600];
        var connection = new ScriptedConnection().Expect("00DB3FFF000258" + Convert.ToHexString(data), "9000");
        var channel = new ApduChannel(connection) { Extended = true };
        Assert.True(channel.Send(new CommandApdu(0x00, 0xDB, 0x3F, 0xFF, data)).IsSuccess);
        Assert.Equal(1, channel.ApdusSent);
    }

    [Fact]
    public void A_response_without_status_word_is_refused()
    {
        var connection = new ScriptedConnection().Expect("00FD000000", "90");
        Assert.Throws<ApduException>(() => new ApduChannel(connection).Send(new CommandApdu(0, 0xFD, 0, 0, default, 256)));
    }

    [Theory]
    [InlineData(0x63C2, typeof(PivPinException), "2 tries left")]
    [InlineData(0x63C1, typeof(PivPinException), "1 try left")]
    [InlineData(0x63C0, typeof(PivPinException), "blocked")]
    [InlineData(0x6983, typeof(PivPinException), "blocked")]
    [InlineData(0x6982, typeof(PivSecurityStatusException), "security status not satisfied")]
    [InlineData(0x6A82, typeof(PivNotFoundException), "not found")]
    [InlineData(0x6A88, typeof(PivNotFoundException), "no such key")]
    [InlineData(0x6A80, typeof(ApduException), "refused the data")]
    [InlineData(0x6B00, typeof(ApduException), "no such slot")]
    [InlineData(0x6F00, typeof(ApduException), "6F 00")]
    public void Status_words_become_precise_exceptions(int sw, Type type, string words)
    {
        var e = StatusWords.ToException((ushort)sw, "VERIFY", "PIN");
        Assert.IsType(type, e);
        Assert.Contains(words, e.Message, StringComparison.Ordinal);
        Assert.Equal((ushort)sw, e.StatusWord);
        if (e is PivPinException pin)
        {
            Assert.Equal(sw == 0x6983 ? 0 : sw & 0x0F, pin.RetriesRemaining);
        }
    }
}
