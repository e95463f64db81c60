using System.Text;

namespace OfflineSigner.PeerAcceptance.Tests.Support;

/// <summary>Changes made to published bytes after signing, to see a peer refuse them.</summary>
internal static class Tamper
{
    /// <summary>
    /// Flips one bit of the byte at <paramref name="offset"/> within the first occurrence of <paramref name="marker"/>
    /// (an ASCII letter stays a letter: bit 0 only), so the document still parses but a signed field changed.
    /// </summary>
    public static byte[] FlipInside(byte[] document, string marker, int offset)
    {
        var needle = Encoding.UTF8.GetBytes(marker);
        var at = document.AsSpan().IndexOf(needle);
        if (at < 0)
        {
            throw new InvalidOperationException($"\"{marker}\" is not in the document");
        }

        var copy = (byte[])document.Clone();
        copy[at + offset] ^= 0x01;
        return copy;
    }
}
