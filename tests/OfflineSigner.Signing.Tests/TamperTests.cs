using OfflineSigner.Tests.Shared;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Json;
using Xunit;

namespace OfflineSigner.Signing.Tests;

/// <summary>A single changed byte in a real signature or in the signed bytes makes verification fail.</summary>
public sealed class TamperTests
{
    public static TheoryData<string> Cases() =>
    [
        "sigstore-ecdsa-der",
        "sigstore-legacy-hex-point",
        "python-tuf-rsa-pss",
        "python-tuf-ed25519",
        "notary-ecdsa-x509",
        "notary-rsapss-x509",
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Flipping_any_byte_of_the_signature_fails(string name)
    {
        var (keyObject, dialect, method, message, signature) = Load(name);
        var verify = VectorData.Verifier(keyObject, dialect);
        Assert.True(verify(method, message, signature), "the untouched signature must verify");
        for (var i = 0; i < signature.Length; i++)
        {
            foreach (var mask in new byte[] { 0x01, 0x80, 0xff })
            {
                var tampered = (byte[])signature.Clone();
                tampered[i] ^= mask;
                Assert.False(verify(method, message, tampered), $"{name}: signature byte {i} ^ {mask:x2} still verifies");
            }
        }

        Assert.False(verify(method, message, signature[..^1]));
        Assert.False(verify(method, message, [.. signature, 0]));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Flipping_any_byte_of_the_message_fails(string name)
    {
        var (keyObject, dialect, method, message, signature) = Load(name);
        var verify = VectorData.Verifier(keyObject, dialect);
        for (var i = 0; i < message.Length; i++)
        {
            var tampered = (byte[])message.Clone();
            tampered[i] ^= 0x01;
            Assert.False(verify(method, tampered, signature), $"{name}: message byte {i} changed and the signature still verifies");
        }

        Assert.False(verify(method, message[..^1], signature));
        Assert.False(verify(method, [.. message, (byte)' '], signature));
    }

    private static (JsonObject Key, Dialect Dialect, string? Method, byte[] Message, byte[] Signature) Load(string name)
    {
        return name switch
        {
            "sigstore-ecdsa-der" => FromRoot(VectorData.SigstoreRoot(15), Dialect.TufSpecification),
            "sigstore-legacy-hex-point" => FromRoot(VectorData.SigstoreRoot(2), Dialect.TufSpecification),
            "python-tuf-rsa-pss" => FromRoot(Path.Combine(TestEnvironment.RequireVectors("python-tuf-testdata/repository_data/repository/metadata"), "root.json"), Dialect.TufSpecification),
            "python-tuf-ed25519" => FromRoot(Path.Combine(TestEnvironment.RequireVectors("python-tuf-testdata/generated_data/ed25519_metadata"), "root_with_ed25519.json"), Dialect.TufSpecification),
            "notary-ecdsa-x509" => FromRoot(VectorData.NotaryMetadata("0.3", "root.json"), Dialect.Notary),
            "notary-rsapss-x509" => FromDelegation(VectorData.NotaryMetadata("0.3", "targets.json"), VectorData.NotaryMetadata("0.3", "targets/releases.json")),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
    }

    private static (JsonObject, Dialect, string?, byte[], byte[]) FromRoot(string path, Dialect dialect)
    {
        var doc = VectorData.Load(path);
        var keys = VectorData.RootKeys(doc);
        var (keyId, method, sig) = VectorData.Signatures(doc, dialect).First(s => s.Sig.Length > 0 && keys.ContainsKey(s.KeyId));
        return (keys[keyId], dialect, method, VectorData.SignedBytes(doc), sig);
    }

    private static (JsonObject, Dialect, string?, byte[], byte[]) FromDelegation(string delegatorPath, string path)
    {
        var keys = VectorData.DelegationKeys(VectorData.Load(delegatorPath));
        var doc = VectorData.Load(path);
        var (keyId, method, sig) = VectorData.Signatures(doc, Dialect.Notary).First();
        return (keys[keyId], Dialect.Notary, method, VectorData.SignedBytes(doc), sig);
    }
}
