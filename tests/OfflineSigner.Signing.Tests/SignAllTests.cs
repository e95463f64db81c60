using System.Security.Cryptography;
using OfflineSigner.Tuf;
using OfflineSigner.Tuf.Crypto;
using OfflineSigner.Tuf.Json;
using Xunit;
using StjArray = System.Text.Json.Nodes.JsonArray;
using StjObject = System.Text.Json.Nodes.JsonObject;

namespace OfflineSigner.Signing.Tests;

/// <summary>
/// <see cref="MetadataSigner.SignAll"/>: the device signs without checking, every signature is checked afterwards, and
/// a bad one is made again through the checked path or fails the batch; nothing unchecked is ever returned.
/// </summary>
public sealed class SignAllTests
{
    [Theory]
    [InlineData(Dialect.TufSpecification, KeyAlgorithm.EcdsaP256)]
    [InlineData(Dialect.TufSpecification, KeyAlgorithm.EcdsaP384)]
    [InlineData(Dialect.TufSpecification, KeyAlgorithm.Rsa2048)]
    [InlineData(Dialect.TufSpecification, KeyAlgorithm.Ed25519)]
    [InlineData(Dialect.Notary, KeyAlgorithm.EcdsaP256)]
    [InlineData(Dialect.Notary, KeyAlgorithm.Ed25519)]
    public void Bad_unchecked_signatures_are_made_again_and_every_returned_one_verifies_with_python(Dialect dialect, KeyAlgorithm algorithm)
    {
        using var inner = SoftwareKeySigner.Generate(algorithm);
        // Every seventh signature the device makes unchecked is broken (the fault the check exists for).
        using var signer = new FaultySigner(inner, breakUnchecked: i => i % 7 == 3, breakChecked: false);
        var keyObject = KeyFormats.Encode(inner.PublicKey, dialect);
        var items = Enumerable.Range(0, 100).Select(i => new SigningItem(dialect, keyObject, Message(i))).ToList();

        var made = MetadataSigner.SignAll(signer, items, TestContext.Current.CancellationToken);

        Assert.Equal(items.Count, made.Length);
        Assert.Equal(items.Count, signer.UncheckedCalls);
        Assert.Equal(Enumerable.Range(0, 100).Count(i => i % 7 == 3), signer.CheckedCalls);
        var cases = new StjArray();
        for (var i = 0; i < made.Length; i++)
        {
            cases.Add(new StjObject
            {
                ["dialect"] = dialect == Dialect.Notary ? "notary" : "spec",
                ["keyid"] = KeyFormats.ComputeKeyId(keyObject),
                ["key"] = PythonPeer.ToStj(keyObject),
                ["method"] = made[i].Method,
                ["message_b64"] = Convert.ToBase64String(items[i].Message.Span),
                ["sig"] = dialect == Dialect.Notary ? Convert.ToBase64String(made[i].Signature) : Convert.ToHexStringLower(made[i].Signature),
            });
        }

        var answers = (StjArray)PythonPeer.Run(new StjObject { ["cases"] = cases })["cases"]!;
        Assert.Equal(made.Length, answers.Count);
        for (var i = 0; i < made.Length; i++)
        {
            var answer = (StjObject)answers[i]!;
            Assert.True(answer["error"] is null, $"item {i}: {answer["error"]}");
            Assert.True(answer["cryptography"]!.GetValue<bool>(), $"item {i}: python-cryptography rejects the signature");
        }
    }

    [Fact]
    public void A_signature_bad_on_both_paths_fails_the_batch_naming_the_item()
    {
        using var inner = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP256);
        using var signer = new FaultySigner(inner, breakUnchecked: i => i == 70, breakChecked: true);
        var keyObject = KeyFormats.Encode(inner.PublicKey, Dialect.TufSpecification);
        var items = Enumerable.Range(0, 100).Select(i => new SigningItem(Dialect.TufSpecification, keyObject, Message(i))).ToList();

        var e = Assert.Throws<SigningException>(() => MetadataSigner.SignAll(signer, items, TestContext.Current.CancellationToken));
        Assert.StartsWith("item 70: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("does not verify", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_item_listing_another_key_is_refused_before_anything_is_signed()
    {
        using var inner = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP256);
        using var other = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP256);
        using var signer = new FaultySigner(inner, breakUnchecked: _ => false, breakChecked: false);
        var mine = KeyFormats.Encode(inner.PublicKey, Dialect.TufSpecification);
        var items = Enumerable.Range(0, 100).Select(i => new SigningItem(Dialect.TufSpecification, i == 88 ? KeyFormats.Encode(other.PublicKey, Dialect.TufSpecification) : mine, Message(i))).ToList();

        var e = Assert.Throws<SigningException>(() => MetadataSigner.SignAll(signer, items, TestContext.Current.CancellationToken));
        Assert.StartsWith("item 88: ", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, signer.UncheckedCalls + signer.CheckedCalls);
    }

    [Fact]
    public void A_signer_without_the_unchecked_path_signs_through_its_checked_one()
    {
        using var inner = SoftwareKeySigner.Generate(KeyAlgorithm.EcdsaP256);
        var keyObject = KeyFormats.Encode(inner.PublicKey, Dialect.TufSpecification);
        var items = Enumerable.Range(0, 10).Select(i => new SigningItem(Dialect.TufSpecification, keyObject, Message(i))).ToList();
        var made = MetadataSigner.SignAll(inner, items, TestContext.Current.CancellationToken);
        for (var i = 0; i < made.Length; i++)
        {
            Assert.True(SignatureVerifier.Verify(inner.PublicKey, Dialect.TufSpecification, "ecdsa", "ecdsa-sha2-nistp256", null, items[i].Message.Span, made[i].Signature), $"item {i}");
        }
    }

    private static byte[] Message(int i) => CanonicalJson.Serialize(new JsonObject
    {
        { "_type", "targets" },
        { "version", i + 1 },
        { "expires", "2030-01-01T00:00:00Z" },
        { "targets", new JsonObject { { $"bin-{i}/file.txt", new JsonObject { { "length", i } } } } },
    });

    private sealed class FaultySigner(SoftwareKeySigner inner, Func<int, bool> breakUnchecked, bool breakChecked) : IKeySigner, IUncheckedSigner
    {
        private int uncheckedCalls;
        private int checkedCalls;

        public int UncheckedCalls => uncheckedCalls;

        public int CheckedCalls => checkedCalls;

        public KeyAlgorithm Algorithm => inner.Algorithm;

        public ReadOnlyMemory<byte> SubjectPublicKeyInfo => inner.SubjectPublicKeyInfo;

        public string KeyReference => "faulty:" + inner.KeyReference;

        public byte[] Sign(ReadOnlySpan<byte> message, HashAlgorithmName hash)
        {
            Interlocked.Increment(ref checkedCalls);
            var signature = inner.Sign(message, hash);
            return breakChecked ? Broken(signature) : signature;
        }

        public byte[] SignUnchecked(ReadOnlySpan<byte> message, HashAlgorithmName hash)
        {
            var call = Interlocked.Increment(ref uncheckedCalls) - 1;
            var signature = inner.Sign(message, hash);
            return breakUnchecked(call) ? Broken(signature) : signature;
        }

        public void Dispose()
        {
        }

        private static byte[] Broken(byte[] signature)
        {
            var copy = (byte[])signature.Clone();
            copy[copy.Length / 2] ^= 0x10;
            return copy;
        }
    }
}
