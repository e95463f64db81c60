using System.Buffers.Binary;
using System.IO.Compression;

namespace OfflineSigner.Ceremony.Tests.Support;

/// <summary>A minimal PNG reader for screenshots (8-bit RGB or RGBA, not interlaced): enough to look at pixels.</summary>
internal sealed class Png
{
    private readonly byte[] rgb;

    private Png(int width, int height, byte[] rgb)
    {
        Width = width;
        Height = height;
        this.rgb = rgb;
    }

    public int Width { get; }

    public int Height { get; }

    public (byte R, byte G, byte B) this[int x, int y] => (rgb[((y * Width) + x) * 3], rgb[(((y * Width) + x) * 3) + 1], rgb[(((y * Width) + x) * 3) + 2]);

    public static Png Read(byte[] file)
    {
        if (file.Length < 8 || !file.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }))
        {
            throw new InvalidDataException("not a PNG file");
        }

        int width = 0, height = 0, colorType = 0;
        using var idat = new MemoryStream();
        var pos = 8;
        while (pos + 8 <= file.Length)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(file.AsSpan(pos));
            var type = System.Text.Encoding.ASCII.GetString(file, pos + 4, 4);
            var data = file.AsSpan(pos + 8, length);
            switch (type)
            {
                case "IHDR":
                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    colorType = data[9];
                    if (data[8] != 8 || data[12] != 0 || colorType is not (2 or 6))
                    {
                        throw new InvalidDataException("only 8-bit RGB/RGBA non-interlaced PNG is read here");
                    }

                    break;
                case "IDAT":
                    idat.Write(data);
                    break;
            }

            pos += 12 + length;
        }

        var bpp = colorType == 6 ? 4 : 3;
        var stride = width * bpp;
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        var bytes = raw.ToArray();
        var current = new byte[stride];
        var previous = new byte[stride];
        var rgb = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
        {
            var filter = bytes[y * (stride + 1)];
            Array.Copy(bytes, (y * (stride + 1)) + 1, current, 0, stride);
            for (var i = 0; i < stride; i++)
            {
                int a = i >= bpp ? current[i - bpp] : 0, b = previous[i], c = i >= bpp ? previous[i - bpp] : 0;
                current[i] = (byte)(current[i] + filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException("bad PNG filter"),
                });
            }

            for (var x = 0; x < width; x++)
            {
                rgb[((y * width) + x) * 3] = current[x * bpp];
                rgb[(((y * width) + x) * 3) + 1] = current[(x * bpp) + 1];
                rgb[(((y * width) + x) * 3) + 2] = current[(x * bpp) + 2];
            }

            (previous, current) = (current, previous);
        }

        return new Png(width, height, rgb);
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
