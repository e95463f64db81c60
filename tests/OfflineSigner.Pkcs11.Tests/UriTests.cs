using System.Text;
using Xunit;

namespace OfflineSigner.Pkcs11.Tests;

/// <summary>RFC 7512 pkcs11: URIs.</summary>
public sealed class UriTests
{
    [Fact]
    public void Parses_token_object_id_and_type()
    {
        var uri = Pkcs11Uri.Parse("pkcs11:token=Offline%20Signer;serial=7f3a;object=root-1;id=%01%A2;type=private");
        Assert.Equal("Offline Signer", uri.Token);
        Assert.Equal("7f3a", uri.Serial);
        Assert.Equal("root-1", uri.Object);
        Assert.Equal([0x01, 0xA2], uri.Id!.Value.ToArray());
        Assert.Equal("private", uri.Type);
        Assert.Equal(new TokenSelector("Offline Signer", "7f3a"), uri.TokenSelector);
    }

    [Fact]
    public void Formats_in_rfc_order_with_percent_encoding()
    {
        var uri = Pkcs11Uri.ForKey("My Token;1", "abc", "root key/ü", [0x01, 0x41], "private");
        Assert.Equal("pkcs11:serial=abc;token=My%20Token%3B1;object=root%20key%2F%C3%BC;id=%01%41;type=private", uri.ToString());
        var back = Pkcs11Uri.Parse(uri.ToString());
        Assert.Equal("My Token;1", back.Token);
        Assert.Equal("root key/ü", back.Object);
        Assert.Equal([0x01, 0x41], back.Id!.Value.ToArray());
        Assert.Equal(uri.ToString(), back.ToString());
    }

    [Theory]
    [InlineData("pkcs11:object=a;object=b", "repeats")]
    [InlineData("pkcs11:id=%0", "percent")]
    [InlineData("pkcs11:id=%zz", "percent")]
    [InlineData("pkcs11:frobnicate=1", "not supported")]
    [InlineData("pkcs11:object=a?pin-value=1234", "pin-value")]
    [InlineData("pkcs11:type=secret", "type")]
    [InlineData("pkcs11:object", "name=value")]
    [InlineData("pkcs11:object=a b", "percent-encoded")]
    [InlineData("file:///x", "pkcs11:")]
    [InlineData("pkcs11:object=a;;id=%01", "empty")]
    public void Rejects_malformed_uris_naming_the_problem(string text, string expected)
    {
        var e = Assert.Throws<FormatException>(() => Pkcs11Uri.Parse(text));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("1234", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Query_attributes_are_kept()
    {
        var uri = Pkcs11Uri.Parse("pkcs11:token=t;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/pin");
        Assert.Equal("/usr/lib/softhsm/libsofthsm2.so", uri.GetQueryAttribute("module-path"));
        Assert.Equal("file:/etc/pin", uri.GetQueryAttribute("pin-source"));
        Assert.Equal("pkcs11:token=t;object=k?module-path=%2Fusr%2Flib%2Fsofthsm%2Flibsofthsm2.so&pin-source=file%3A%2Fetc%2Fpin", uri.ToString());
    }

    [Fact]
    public void Scheme_is_case_insensitive_and_empty_path_is_allowed()
    {
        var uri = Pkcs11Uri.Parse("PKCS11:");
        Assert.Null(uri.Token);
        Assert.Null(uri.TokenSelector);
        Assert.Equal("pkcs11:", uri.ToString());
    }

    [Fact]
    public void Percent_encoded_bytes_round_trip_for_every_byte_value()
    {
        var all = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        var uri = Pkcs11Uri.ForKey("t", null, null, all);
        Assert.Equal(all, Pkcs11Uri.Parse(uri.ToString()).Id!.Value.ToArray());
        var sb = new StringBuilder();
        Pkcs11Uri.AppendEncoded(sb, "a-b._~Z9 "u8, encodeAll: false);
        Assert.Equal("a-b._~Z9%20", sb.ToString());
    }
}
