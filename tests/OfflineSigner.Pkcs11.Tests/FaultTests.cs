using System.Security.Cryptography;
using OfflineSigner.Pkcs11.Interop;
using OfflineSigner.Pkcs11.Tests.Support;
using OfflineSigner.Signing;
using OfflineSigner.Tests.Shared;
using Xunit;

namespace OfflineSigner.Pkcs11.Tests;

/// <summary>Wrong and locked PINs, tokens that vanish or change under a running process, concurrent callers.</summary>
[Collection(SoftHsmSerialGroup.Name)]
public sealed class FaultTests
{
    [Fact]
    public void Wrong_pin_is_reported_with_the_retry_state_and_without_the_pin()
    {
        using var hsm = SoftHsmSandbox.Create("pin");
        var wrongPin = hsm.WritePinFile("wrong.pin", "999999");
        hsm.Activate();

        var e = Assert.Throws<Pkcs11PinException>(() => Pkcs11Token.Open(hsm.Options("pin", wrongPin)));
        Assert.Equal(PinRetryStatus.CountLow, e.Status);
        Assert.Contains("rejected the PIN from PIN file " + wrongPin, e.Message, StringComparison.Ordinal);
        Assert.Contains("failed PIN attempts", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("999999", e.ToString(), StringComparison.Ordinal);
        var inner = Assert.IsType<Pkcs11Exception>(e.InnerException);
        Assert.Equal("C_Login", inner.Function);
        Assert.Equal(0xA0UL, inner.ReturnValue);

        // The right PIN still works (SoftHSM counts failures but does not lock) and clears the flag.
        using var token = Pkcs11Token.Open(hsm.Options("pin"));
        Assert.Equal(PinRetryStatus.NoFailures, token.Info!.UserPinStatus);
    }

    [Fact]
    public void A_rejected_pin_is_not_tried_again_so_the_token_cannot_be_locked_by_a_loop()
    {
        using var hsm = SoftHsmSandbox.Create("loop");
        var log = Path.Combine(hsm.Dir, "spy.log");
        hsm.Activate();
        var spy = Pkcs11Spy.Activate(hsm, log);
        var pinFile = hsm.WritePinFile("changing.pin", SoftHsmSandbox.UserPin);
        using var token = Pkcs11Token.Open(new Pkcs11TokenOptions(spy, TokenSelector.ByLabel("loop"), new FilePinSource(pinFile)));
        using var signer = Pkcs11KeyGenerator.Generate(token, KeyAlgorithm.EcdsaP256, "k", [0x01]);
        Assert.Equal(1, Pkcs11Spy.Count(log, "C_Login"));

        // The PIN source goes wrong, then the session is lost: recovery must log in again, once.
        hsm.WritePinFile("changing.pin", "000000");
        token.Module.Reinitialize(token.Module.Generation);
        var first = Assert.Throws<Pkcs11PinException>(() => signer.Sign("m"u8, HashAlgorithmName.SHA256));
        Assert.Contains("rejected the PIN", first.Message, StringComparison.Ordinal);
        Assert.Equal(2, Pkcs11Spy.Count(log, "C_Login"));

        for (var i = 0; i < 5; i++)
        {
            var again = Assert.Throws<Pkcs11PinException>(() => signer.Sign("m"u8, HashAlgorithmName.SHA256));
            Assert.Contains("not trying again", again.Message, StringComparison.Ordinal);
        }

        Assert.Equal(2, Pkcs11Spy.Count(log, "C_Login"));

        // Once the operator fixed the PIN source and says so, signing resumes.
        hsm.WritePinFile("changing.pin", SoftHsmSandbox.UserPin);
        token.ClearPinFailure();
        Assert.Equal(64, signer.Sign("m"u8, HashAlgorithmName.SHA256).Length);
        Assert.Equal(3, Pkcs11Spy.Count(log, "C_Login"));
    }

    [Fact]
    public void A_token_that_says_its_pin_is_locked_gets_no_login_attempt()
    {
        using var hsm = SoftHsmSandbox.Create("locked");
        TokenObjectFile.AddFlags(hsm.TokenDirectoryOf("locked"), Ckf.UserPinLocked);
        var log = Path.Combine(hsm.Dir, "spy.log");
        hsm.Activate();
        var spy = Pkcs11Spy.Activate(hsm, log);

        var e = Assert.Throws<Pkcs11PinException>(() => Pkcs11Token.Open(
            new Pkcs11TokenOptions(spy, TokenSelector.ByLabel("locked"), new FilePinSource(hsm.UserPinFile))));
        Assert.Equal(PinRetryStatus.Locked, e.Status);
        Assert.Contains("the user PIN is locked", e.Message, StringComparison.Ordinal);
        Assert.Contains("no login attempted", e.Message, StringComparison.Ordinal);
        Assert.True(Pkcs11Spy.Count(log, "C_GetTokenInfo") > 0, "the spy logged nothing");
        Assert.Equal(0, Pkcs11Spy.Count(log, "C_Login"));
    }

    [Fact]
    public void Absent_token_is_named()
    {
        using var hsm = SoftHsmSandbox.Create("present");
        hsm.Activate();
        var e = Assert.Throws<Pkcs11TokenException>(() => Pkcs11Token.Open(hsm.Options("absent")));
        Assert.Equal($"token label 'absent' is not present in module {SoftHsmSandbox.ModulePath}", e.Message);
    }

    [Fact]
    public void Token_removed_while_running_gives_clear_errors_and_works_again_when_put_back()
    {
        using var hsm = SoftHsmSandbox.Create("removable");
        hsm.Activate();
        using var token = Pkcs11Token.Open(hsm.Options("removable"));
        using var signer = Pkcs11KeyGenerator.Generate(token, KeyAlgorithm.EcdsaP256, "k", [0x01]);
        var message = "before"u8.ToArray();
        Assert.Equal(64, signer.Sign(message, HashAlgorithmName.SHA256).Length);

        var dir = hsm.TokenDirectoryOf("removable");
        var aside = Path.Combine(hsm.Dir, "aside");
        Directory.Move(dir, aside);
        try
        {
            var e = Assert.ThrowsAny<SigningException>(() => signer.Sign(message, HashAlgorithmName.SHA256));
            Assert.True(e is Pkcs11TokenException or Pkcs11KeyException, e.ToString());
            Assert.Contains("removable", e.Message, StringComparison.Ordinal);

            // Still absent: the same clear error, no crash.
            Assert.ThrowsAny<SigningException>(() => signer.Sign(message, HashAlgorithmName.SHA256));
        }
        finally
        {
            Directory.Move(aside, dir);
        }

        var signature = signer.Sign(message, HashAlgorithmName.SHA256);
        using var ecdsa = ECDsa.Create();
        ecdsa.ImportSubjectPublicKeyInfo(signer.SubjectPublicKeyInfo.Span, out _);
        Assert.True(ecdsa.VerifyData(message, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        Assert.True(token.Recoveries >= 1);
    }

    [Fact]
    public void Token_reinitialized_while_running_loses_the_key_and_a_new_key_under_the_same_name_is_refused()
    {
        using var hsm = SoftHsmSandbox.Create("reinit");
        hsm.Activate();
        using var token = Pkcs11Token.Open(hsm.Options("reinit"));
        using var signer = Pkcs11KeyGenerator.Generate(token, KeyAlgorithm.EcdsaP256, "root", [0x01]);
        _ = signer.Sign("x"u8, HashAlgorithmName.SHA256);

        // Re-initialize the token from outside the process (softhsm2-util wipes its objects, keeps label and serial).
        var util = TestEnvironment.RequireTool("softhsm2-util", "Debian package softhsm2");
        var reinit = ProcessRunner.Run(
            util,
            ["--init-token", "--token", "reinit", "--label", "reinit", "--so-pin", SoftHsmSandbox.SoPin, "--pin", SoftHsmSandbox.UserPin],
            environment: hsm.ChildEnvironment);
        Assert.True(reinit.ExitCode == 0, reinit.ToString());
        token.Module.Reinitialize(token.Module.Generation);

        var missing = Assert.Throws<Pkcs11KeyException>(() => signer.Sign("x"u8, HashAlgorithmName.SHA256));
        Assert.Contains("no private key matches", missing.Message, StringComparison.Ordinal);

        // Someone puts a different key under the same id and label: the signer must not use it.
        var gen = hsm.Pkcs11Tool(
            "--token-label", "reinit", "--login", "--pin", SoftHsmSandbox.UserPin,
            "--keypairgen", "--key-type", "EC:prime256v1", "--id", "01", "--label", "root", "--usage-sign", "--sensitive");
        Assert.True(gen.ExitCode == 0, gen.ToString());
        token.Module.Reinitialize(token.Module.Generation);
        var changed = Assert.Throws<Pkcs11KeyException>(() => signer.Sign("x"u8, HashAlgorithmName.SHA256));
        Assert.Contains("public key changed", changed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_callers_are_serialized_and_survive_the_token_going_away()
    {
        using var hsm = SoftHsmSandbox.Create("busy");
        hsm.Activate();
        using var token = Pkcs11Token.Open(hsm.Options("busy"));
        using var ec = Pkcs11KeyGenerator.Generate(token, KeyAlgorithm.EcdsaP256, "ec", [0x01]);
        using var ed = Pkcs11KeyGenerator.Generate(token, KeyAlgorithm.Ed25519, "ed", [0x02]);
        using var ecdsa = ECDsa.Create();
        ecdsa.ImportSubjectPublicKeyInfo(ec.SubjectPublicKeyInfo.Span, out _);

        var dir = hsm.TokenDirectoryOf("busy");
        var aside = Path.Combine(hsm.Dir, "aside");
        var unexpected = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        var good = 0;
        var refused = 0;
        using var stop = new CancellationTokenSource();

        var workers = Enumerable.Range(0, 6).Select(i => Task.Run(() =>
        {
            var message = BitConverter.GetBytes(i);
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    if (i % 2 == 0)
                    {
                        var sig = ec.Sign(message, HashAlgorithmName.SHA256);
                        if (!ecdsa.VerifyData(message, sig, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
                        {
                            unexpected.Add(new InvalidOperationException("a returned ECDSA signature does not verify"));
                        }
                    }
                    else
                    {
                        Assert.Equal(64, ed.Sign(message, HashAlgorithmName.SHA256).Length);
                    }

                    Interlocked.Increment(ref good);
                }
                catch (Pkcs11TokenException)
                {
                    Interlocked.Increment(ref refused);
                }
                catch (Pkcs11KeyException)
                {
                    Interlocked.Increment(ref refused);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    unexpected.Add(e);
                }
            }
        }, TestContext.Current.CancellationToken)).ToArray();

        var ct = TestContext.Current.CancellationToken;
        await Task.Delay(300, ct);
        Directory.Move(dir, aside);
        await Task.Delay(300, ct);
        Directory.Move(aside, dir);
        await Task.Delay(300, ct);
        await stop.CancelAsync();
        await Task.WhenAll(workers);

        Assert.Empty(unexpected);
        Assert.True(good > 20, $"only {good} signatures");
        Assert.True(refused > 0, "no call noticed that the token was gone");
        Assert.Equal(64, ec.Sign("after"u8, HashAlgorithmName.SHA256).Length);
        Assert.Equal(64, ed.Sign("after"u8, HashAlgorithmName.SHA256).Length);
    }

    [Fact]
    public async Task A_token_that_comes_and_goes_does_not_disturb_another_token_on_the_same_module()
    {
        using var hsm = SoftHsmSandbox.Create("steady", "flaky");
        hsm.Activate();
        using var steady = Pkcs11Token.Open(hsm.Options("steady"));
        using var flaky = Pkcs11Token.Open(hsm.Options("flaky"));
        using var steadyKey = Pkcs11KeyGenerator.Generate(steady, KeyAlgorithm.EcdsaP256, "s", [0x01]);
        using var flakyKey = Pkcs11KeyGenerator.Generate(flaky, KeyAlgorithm.EcdsaP256, "f", [0x01]);
        var generationBefore = steady.Module.Generation;

        var dir = hsm.TokenDirectoryOf("flaky");
        var aside = Path.Combine(hsm.Dir, "aside");
        var ct = TestContext.Current.CancellationToken;
        using var stop = new CancellationTokenSource();
        var steadySignatures = 0;
        var steadyWorker = Task.Run(
            () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    // Every call must succeed: the other token's recovery re-initializes the module under it.
                    Assert.Equal(64, steadyKey.Sign("steady"u8, HashAlgorithmName.SHA256).Length);
                    Interlocked.Increment(ref steadySignatures);
                }
            },
            ct);

        Directory.Move(dir, aside);
        var errors = 0;
        for (var i = 0; i < 5; i++)
        {
            try
            {
                flakyKey.Sign("flaky"u8, HashAlgorithmName.SHA256);
            }
            catch (SigningException e) when (e is Pkcs11TokenException or Pkcs11KeyException)
            {
                errors++;
            }

            await Task.Delay(20, ct);
        }

        Directory.Move(aside, dir);
        Assert.Equal(64, flakyKey.Sign("flaky"u8, HashAlgorithmName.SHA256).Length);
        await Task.Delay(100, ct);
        await stop.CancelAsync();
        await steadyWorker;

        Assert.True(errors > 0, "the removed token was not noticed");
        Assert.True(steady.Module.Generation > generationBefore, "the module was never re-initialized");
        Assert.True(steadySignatures > 10, $"only {steadySignatures} signatures on the steady token");
        Assert.True(steady.Recoveries >= 1, "the steady token never had to reconnect");
    }

    [Fact]
    public void Ed25519_verification_on_the_token_rejects_a_tampered_signature()
    {
        using var hsm = SoftHsmSandbox.Create("ed");
        hsm.Activate();
        using var token = Pkcs11Token.Open(hsm.Options("ed"));
        using var signer = Pkcs11KeyGenerator.Generate(token, KeyAlgorithm.Ed25519, "ed", [0x05]);
        var message = "ed25519 message"u8.ToArray();
        var signature = signer.Sign(message, HashAlgorithmName.SHA256);
        var publicKey = signer.KeyInfo.PublicKeyHandle;
        Assert.True(token.Run(s => s.Verify(Pkcs11Mechanism.Eddsa, publicKey, message, signature)));
        signature[10] ^= 0x40;
        Assert.False(token.Run(s => s.Verify(Pkcs11Mechanism.Eddsa, publicKey, message, signature)));
        signature[10] ^= 0x40;
        message[0] ^= 1;
        Assert.False(token.Run(s => s.Verify(Pkcs11Mechanism.Eddsa, publicKey, message, signature)));
    }
}
