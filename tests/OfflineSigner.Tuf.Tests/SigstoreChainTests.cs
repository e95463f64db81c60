using System.Text;
using OfflineSigner.Tuf.Json;
using Xunit;

namespace OfflineSigner.Tuf.Tests;

/// <summary>The real sigstore root chain 1..15 (five YubiKey holders, threshold 3, legacy key encodings in 1-4).</summary>
public class SigstoreChainTests
{
    [Fact]
    public void Every_step_verifies_and_root_15_is_reported_expired_after_2026_11_20()
    {
        var roots = Enumerable.Range(1, 15).Select(v => TestData.ParseRoot(TestData.SigstoreRoot(v))).ToList();
        var walk = RootChain.Walk(roots[0], roots.Skip(1), TestData.AfterRoot15Expiry);
        Assert.Equal(14, walk.Steps.Count);
        Assert.All(walk.Steps, s => Assert.True(s.Verified, $"step {s.FromVersion}->{s.ToVersion}: {s.Error}"));
        Assert.Equal(15, walk.Final.Signed.Version);
        Assert.True(walk.FinalExpired);
        Assert.False(walk.Verified);
        Assert.Equal(new DateTimeOffset(2026, 11, 20, 13, 58, 18, TimeSpan.Zero), walk.Final.Signed.Expires);

        var before = RootChain.Walk(roots[0], roots.Skip(1), TestData.BeforeRoot15Expiry);
        Assert.True(before.Verified);
    }

    [Fact]
    public void Root_5_lists_the_same_keys_twice_and_each_physical_key_counts_once()
    {
        var root4 = TestData.ParseRoot(TestData.SigstoreRoot(4));
        var root5 = TestData.ParseRoot(TestData.SigstoreRoot(5));
        Assert.Equal(8, root5.Signatures.Count);
        var update = Verifier.VerifyRootUpdate(root4, root5);
        Assert.True(update.Verified);
        Assert.Equal(4, update.ByTrusted.Signers.Count);
        Assert.Equal(update.ByTrusted.Signers.Count, update.ByTrusted.Signers.Select(k => k.Fingerprint).Distinct().Count());
    }

    [Fact]
    public void Root_11_has_a_non_compliant_key_id_that_is_reported_but_still_counts()
    {
        var root10 = TestData.ParseRoot(TestData.SigstoreRoot(10));
        var root11 = TestData.ParseRoot(TestData.SigstoreRoot(11));
        var odd = Assert.Single(root11.Signed.Keys.Values, k => !k.KeyIdMatches);
        Assert.Equal("7247f0dbad85b147e1863bade761243cc785dcb7aa410e7105dd3d2b61a36d2c", odd.KeyId);
        Assert.Contains(odd.KeyId, root11.Signed.Roles["timestamp"].KeyIds);
        Assert.Contains("does not match", MetadataSummary.DescribeKey(odd), StringComparison.Ordinal);
        var update = Verifier.VerifyRootUpdate(root10, root11);
        Assert.True(update.Verified);
    }

    [Fact]
    public void Changing_any_signed_field_makes_the_walk_fail_at_that_step()
    {
        for (var v = 2; v <= 15; v++)
        {
            var previous = TestData.ParseRoot(TestData.SigstoreRoot(v - 1));
            var original = TestData.SigstoreRoot(v);
            foreach (var mutate in SignedFieldMutations())
            {
                var doc = (JsonObject)JsonParser.Parse(original);
                var signed = (JsonObject)doc["signed"];
                var what = mutate(signed);
                var tampered = TestData.ParseRoot(JsonText.Serialize(doc));
                var walk = RootChain.Walk(previous, [tampered], TestData.BeforeRoot15Expiry);
                Assert.False(walk.Steps[0].Verified, $"root {v} with {what} changed still verified");
            }
        }
    }

    [Fact]
    public void A_changed_byte_in_any_signature_stops_that_signature_counting()
    {
        for (var v = 2; v <= 15; v++)
        {
            var previous = TestData.ParseRoot(TestData.SigstoreRoot(v - 1));
            var original = TestData.SigstoreRoot(v);
            var baseline = Verifier.VerifyRootUpdate(previous, TestData.ParseRoot(original));
            var sigCount = TestData.ParseRoot(original).Signatures.Count;
            for (var i = 0; i < sigCount; i++)
            {
                var doc = (JsonObject)JsonParser.Parse(original);
                var sigObj = (JsonObject)((JsonArray)doc["signatures"])[i];
                var hex = ((JsonString)sigObj["sig"]).Value;
                var bytes = Convert.FromHexString(hex);
                if (bytes.Length == 0)
                {
                    // tuf-on-ci leaves empty placeholders for holders who have not signed yet.
                    continue;
                }

                bytes[bytes.Length / 2] ^= 0x01;
                sigObj.Set("sig", Convert.ToHexStringLower(bytes));
                var tampered = TestData.ParseRoot(JsonText.Serialize(doc));
                var keyId = ((JsonString)sigObj["keyid"]).Value;
                var result = Verifier.VerifyRootUpdate(previous, tampered);
                Assert.DoesNotContain(result.ByTrusted.Signers, k => k.KeyId == keyId);
                Assert.DoesNotContain(result.ByNew.Signers, k => k.KeyId == keyId);
                var dropped = baseline.ByTrusted.Signers.Any(k => k.KeyId == keyId);
                if (dropped && baseline.ByTrusted.Signers.Count == baseline.ByTrusted.Threshold)
                {
                    Assert.False(result.Verified, $"root {v}: threshold met with a broken signature by {keyId}");
                }
            }
        }
    }

    [Fact]
    public void A_duplicated_signature_is_refused_at_parse()
    {
        var doc = (JsonObject)JsonParser.Parse(TestData.SigstoreRoot(12));
        var sigs = (JsonArray)doc["signatures"];
        sigs.Add(sigs[0].DeepClone());
        var e = Assert.Throws<MetadataFormatException>(() => TestData.ParseRoot(JsonText.Serialize(doc)));
        Assert.Contains("second signature", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_then_serialize_is_byte_identical_for_the_signed_part()
    {
        for (var v = 1; v <= 15; v++)
        {
            var original = TestData.SigstoreRoot(v);
            var parsed = TestData.ParseRoot(original);
            var expected = CanonicalJson.Serialize(((JsonObject)JsonParser.Parse(original))["signed"]);
            Assert.Equal(expected, parsed.SignedBytes());
        }
    }

    [Fact]
    public void A_skipped_or_repeated_version_is_refused()
    {
        var r3 = TestData.ParseRoot(TestData.SigstoreRoot(3));
        var r5 = TestData.ParseRoot(TestData.SigstoreRoot(5));
        Assert.Throws<BadVersionException>(() => Verifier.VerifyRootUpdate(r3, r5));
        Assert.Throws<BadVersionException>(() => Verifier.VerifyRootUpdate(r5, r3));
    }

    private static IEnumerable<Func<JsonObject, string>> SignedFieldMutations()
    {
        yield return s =>
        {
            var e = ((JsonString)s["expires"]).Value;
            var year = int.Parse(e[..4], System.Globalization.CultureInfo.InvariantCulture);
            s.Set("expires", (year + 1).ToString(System.Globalization.CultureInfo.InvariantCulture) + e[4..]);
            return "expires";
        };
        yield return s =>
        {
            s.Set("consistent_snapshot", !((JsonBoolean)s["consistent_snapshot"]).Value);
            return "consistent_snapshot";
        };
        yield return s =>
        {
            var role = (JsonObject)((JsonObject)s["roles"])["timestamp"];
            role.Set("threshold", ((JsonInteger)role["threshold"]).Int64Value + 1);
            return "roles.timestamp.threshold";
        };
        yield return s =>
        {
            var keys = (JsonObject)s["keys"];
            var (id, key) = keys.Properties[0];
            var keyval = (JsonObject)((JsonObject)key)["keyval"];
            var pub = ((JsonString)keyval["public"]).Value;
            var flip = new StringBuilder(pub);
            var idx = pub.Length / 2;
            flip[idx] = flip[idx] == 'A' ? 'B' : 'A';
            keyval.Set("public", flip.ToString());
            return "keys." + id + ".keyval.public";
        };
    }
}
