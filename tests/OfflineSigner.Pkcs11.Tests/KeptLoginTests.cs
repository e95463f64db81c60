using System.Security.Cryptography;
using OfflineSigner.Pkcs11.Interop;
using OfflineSigner.Pkcs11.Tests.Support;
using OfflineSigner.Signing;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Pkcs11.Tests;

/// <summary>
/// A pooled token that keeps one login and checks every request's own PIN against it: on SoftHSM2 behind the OpenSC
/// spy, which counts the calls that really reach the token.
/// </summary>
[Collection(SoftHsmSerialGroup.Name)]
public sealed class KeptLoginTests
{
    private static readonly byte[] RightPin = "1234"u8.ToArray();
    private static readonly byte[] WrongPin = "999999"u8.ToArray();

    [Fact]
    public void A_wrong_pin_is_refused_against_the_kept_login_without_reaching_the_token_and_the_right_one_still_works()
    {
        using var hsm = SoftHsmSandbox.Create("kept");
        var log = Path.Combine(hsm.Dir, "spy.log");
        hsm.Activate();
        var spy = Pkcs11Spy.Activate(hsm, log);
        using var token = Pooled(spy, "kept");
        using var right = new BytesPinSource(RightPin);
        using var wrong = new BytesPinSource(WrongPin);

        using var signer = Pkcs11KeyGenerator.Generate(token, KeyAlgorithm.EcdsaP256, "k", [0x01], right);
        for (var i = 0; i < 20; i++)
        {
            SignsAndVerifies(signer, "m", right);
        }

        Assert.Equal(1, Pkcs11Spy.Count(log, "C_Login"));
        var signs = Pkcs11Spy.Count(log, "C_Sign");

        for (var i = 0; i < 5; i++)
        {
            var e = Assert.Throws<Pkcs11PinException>(() => signer.Sign("m"u8, HashAlgorithmName.SHA256, wrong));
            Assert.Contains("is not the PIN the token is logged in with", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("999999", e.ToString(), StringComparison.Ordinal);
            Assert.Throws<Pkcs11PinException>(() => token.Authorize(wrong));
        }

        // Nothing reached the token: no login attempt, no signature; and the kept login is still there.
        Assert.Equal(1, Pkcs11Spy.Count(log, "C_Login"));
        Assert.Equal(signs, Pkcs11Spy.Count(log, "C_Sign"));
        Assert.Equal(0, Pkcs11Spy.Count(log, "C_Logout"));
        Assert.Equal(10, token.PinMismatches);
        Assert.True(token.Connected);
        Assert.Equal(1, PrivateKeysVisibleToANewSession(spy, "kept"));

        // The right PIN still signs, on the same login.
        SignsAndVerifies(signer, "after", right);
        Assert.Equal(1, Pkcs11Spy.Count(log, "C_Login"));

        // A request without a PIN is refused too when no PIN source is configured.
        var none = Assert.Throws<Pkcs11PinException>(() => signer.Sign("m"u8, HashAlgorithmName.SHA256, pin: null));
        Assert.Contains("no PIN source is configured", none.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_a_kept_login_a_wrong_pin_goes_to_the_token_which_refuses_it_and_nothing_is_kept()
    {
        using var hsm = SoftHsmSandbox.Create("first");
        var log = Path.Combine(hsm.Dir, "spy.log");
        hsm.Activate();
        var spy = Pkcs11Spy.Activate(hsm, log);
        using var token = Pooled(spy, "first");
        using var right = new BytesPinSource(RightPin);
        using var wrong = new BytesPinSource(WrongPin);

        var e = Assert.Throws<Pkcs11PinException>(() => token.Authorize(wrong));
        var inner = Assert.IsType<Pkcs11Exception>(e.InnerException);
        Assert.Equal("C_Login", inner.Function);
        Assert.Equal(Ckr.PinIncorrect, inner.ReturnValue);
        Assert.False(token.Connected);

        // A request PIN that failed does not block the next request (unlike a configured source that is wrong).
        token.Authorize(right);
        Assert.True(token.Connected);
        Assert.Equal(2, Pkcs11Spy.Count(log, "C_Login"));
    }

    [Fact]
    public async Task Concurrent_requests_sign_in_parallel_sessions_under_one_login()
    {
        using var hsm = SoftHsmSandbox.Create("parallel");
        var log = Path.Combine(hsm.Dir, "spy.log");
        hsm.Activate();
        var spy = Pkcs11Spy.Activate(hsm, log);
        using var token = Pooled(spy, "parallel", sessions: 4);
        using var right = new BytesPinSource(RightPin);
        using var signer = Pkcs11KeyGenerator.Generate(token, KeyAlgorithm.EcdsaP256, "k", [0x01], right);
        var bad = new System.Collections.Concurrent.ConcurrentBag<string>();
        var ct = TestContext.Current.CancellationToken;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(
            () =>
            {
                for (var i = 0; i < 25; i++)
                {
                    var message = BitConverter.GetBytes((t * 100) + i);
                    if (!Verifies(signer, message, signer.Sign(message, HashAlgorithmName.SHA256, right)))
                    {
                        bad.Add($"thread {t} signature {i}");
                    }
                }
            },
            ct)));

        Assert.Empty(bad);
        Assert.Equal(1, Pkcs11Spy.Count(log, "C_Login"));

        // One session holds the login; at most four more are lent, and they are reused.
        Assert.InRange(Pkcs11Spy.Count(log, "C_OpenSession"), 2, 5);
    }

    [Fact]
    public void The_pool_logs_in_again_with_the_requests_pin_after_the_token_logged_it_out()
    {
        using var hsm = SoftHsmSandbox.Create("logout");
        var log = Path.Combine(hsm.Dir, "spy.log");
        hsm.Activate();
        var spy = Pkcs11Spy.Activate(hsm, log);
        using var token = Pooled(spy, "logout");
        using var right = new BytesPinSource(RightPin);
        using var wrong = new BytesPinSource(WrongPin);
        using var signer = Pkcs11KeyGenerator.Generate(token, KeyAlgorithm.EcdsaP256, "k", [0x01], right);
        SignsAndVerifies(signer, "m", right);

        // Another part of the process logs the token out (PKCS#11 logs out every session of the process).
        using (var module = Pkcs11Module.Load(spy))
        using (var session = module.FindToken(TokenSelector.ByLabel("logout"))!.OpenSession())
        {
            session.Logout();
        }

        Assert.Equal(0, PrivateKeysVisibleToANewSession(spy, "logout"));
        SignsAndVerifies(signer, "again", right);
        Assert.Equal(2, Pkcs11Spy.Count(log, "C_Login"));
        Assert.True(token.Recoveries >= 1);

        // Logged out once more, and the next request brings a wrong PIN: the pool has not seen the logout yet, so the
        // PIN is compared with the kept login's and refused without a login attempt; the right PIN then logs in again.
        using (var module = Pkcs11Module.Load(spy))
        using (var session = module.FindToken(TokenSelector.ByLabel("logout"))!.OpenSession())
        {
            session.Logout();
        }

        var e = Assert.Throws<Pkcs11PinException>(() => signer.Sign("m"u8, HashAlgorithmName.SHA256, wrong));
        Assert.Contains("is not the PIN the token is logged in with", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, Pkcs11Spy.Count(log, "C_Login"));
        SignsAndVerifies(signer, "right", right);
        Assert.Equal(3, Pkcs11Spy.Count(log, "C_Login"));
    }

    [Fact]
    public void After_the_token_is_reinitialized_under_the_pool_only_the_new_pin_logs_in_and_a_new_key_signs()
    {
        using var hsm = SoftHsmSandbox.Create("reinit");
        hsm.Activate();
        using var token = Pooled(SoftHsmSandbox.ModulePath, "reinit");
        using var right = new BytesPinSource(RightPin);
        using var signer = Pkcs11KeyGenerator.Generate(token, KeyAlgorithm.EcdsaP256, "k", [0x01], right);
        SignsAndVerifies(signer, "m", right);

        // Re-initialized from outside with another user PIN (softhsm2-util keeps label and serial, wipes the objects).
        var util = TestEnvironment.RequireTool("softhsm2-util", "Debian package softhsm2");
        var reinit = ProcessRunner.Run(
            util,
            ["--init-token", "--token", "reinit", "--label", "reinit", "--so-pin", SoftHsmSandbox.SoPin, "--pin", "4321"],
            environment: hsm.ChildEnvironment);
        Assert.True(reinit.ExitCode == 0, reinit.ToString());
        token.Module.Reinitialize(token.Module.Generation);

        // The old PIN's kept login is gone with the sessions: the old PIN is now checked by the token, which refuses it.
        var e = Assert.Throws<Pkcs11PinException>(() => token.Authorize(right));
        Assert.Equal(Ckr.PinIncorrect, Assert.IsType<Pkcs11Exception>(e.InnerException).ReturnValue);

        using var newPin = new BytesPinSource("4321"u8);
        var missing = Assert.Throws<Pkcs11KeyException>(() => signer.Sign("m"u8, HashAlgorithmName.SHA256, newPin));
        Assert.Contains("no private key matches", missing.Message, StringComparison.Ordinal);
        using var fresh = Pkcs11KeyGenerator.Generate(token, KeyAlgorithm.EcdsaP256, "k2", [0x02], newPin);
        SignsAndVerifies(fresh, "m", newPin);
        Assert.Throws<Pkcs11PinException>(() => fresh.Sign("m"u8, HashAlgorithmName.SHA256, right));
    }

    [Fact]
    public void The_idle_timeout_logs_out_and_the_next_request_logs_in_again()
    {
        using var hsm = SoftHsmSandbox.Create("idle");
        var log = Path.Combine(hsm.Dir, "spy.log");
        hsm.Activate();
        var spy = Pkcs11Spy.Activate(hsm, log);
        using var token = Pooled(spy, "idle", idle: TimeSpan.FromMilliseconds(400));
        using var right = new BytesPinSource(RightPin);
        using var signer = Pkcs11KeyGenerator.Generate(token, KeyAlgorithm.EcdsaP256, "k", [0x01], right);
        SignsAndVerifies(signer, "m", right);
        Assert.Equal(1, PrivateKeysVisibleToANewSession(spy, "idle"));

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (token.Connected && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(50);
        }

        Assert.False(token.Connected, "still logged in 10 s after a 0.4 s idle timeout");
        Assert.Equal(1, token.IdleLogouts);
        Assert.True(Pkcs11Spy.Count(log, "C_Logout") >= 1);

        // The token itself no longer shows private objects to the process.
        Assert.Equal(0, PrivateKeysVisibleToANewSession(spy, "idle"));

        SignsAndVerifies(signer, "later", right);
        Assert.Equal(2, Pkcs11Spy.Count(log, "C_Login"));
    }

    private static Pkcs11Token Pooled(string module, string label, int sessions = 2, TimeSpan? idle = null) =>
        Pkcs11Token.OpenDeferred(new Pkcs11TokenOptions(module, TokenSelector.ByLabel(label), Pin: null, sessions, idle));

    /// <summary>Private keys a fresh session of this process sees: the token shows them only while the process is logged in.</summary>
    private static int PrivateKeysVisibleToANewSession(string module, string label)
    {
        using var m = Pkcs11Module.Load(module);
        using var session = m.FindToken(TokenSelector.ByLabel(label))!.OpenSession();
        return session.FindAllObjects([ObjectAttribute.FromUlong(Cka.Class, Cko.PrivateKey)]).Count;
    }

    private static bool Verifies(Pkcs11Signer signer, byte[] message, byte[] signature)
    {
        using var ecdsa = ECDsa.Create();
        ecdsa.ImportSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span, out _);
        return ecdsa.VerifyData(message, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    private static void SignsAndVerifies(Pkcs11Signer signer, string text, IPinSource pin)
    {
        var message = System.Text.Encoding.UTF8.GetBytes(text);
        Assert.True(Verifies(signer, message, signer.Sign(message, HashAlgorithmName.SHA256, pin)), "the signature does not verify");
    }
}
