using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Pipelines;
using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OfflineSigner.Audit;

namespace OfflineSigner.Daemon.Grpc;

/// <summary>
/// gRPC over HTTP/2 for one request (PROTOCOL-HTTP2.md): checks the caller, routes the path, reads exactly one
/// length-prefixed request message within the size limit, runs the method under the grpc-timeout deadline, writes
/// the response messages and ends with grpc-status / grpc-message trailers (or a trailers-only response when the
/// call fails before its first message). Compressed messages are refused with UNIMPLEMENTED.
/// </summary>
internal sealed class GrpcCallHandler(GrpcServiceRegistry registry, GrpcTransportOptions options, IAuditLog audit, ILogger logger, CancellationToken stopping) : IDisposable
{
    private readonly SemaphoreSlim _calls = new(options.MaxConcurrentCalls, options.MaxConcurrentCalls);

    // The caller of each open connection, by Kestrel's connection id, and whether it may call: decided once per
    // connection, since the group check reads /proc.
    private readonly ConcurrentDictionary<string, (PeerCredentials? Peer, bool Allowed)> _callers = new(StringComparer.Ordinal);

    /// <summary>Records who opened a connection (null: unknown) and decides whether it may call.</summary>
    public void Connected(string connectionId, PeerCredentials? peer) =>
        _callers[connectionId] = (peer, peer is not null && options.Allows(peer));

    public void Disconnected(string connectionId) => _callers.TryRemove(connectionId, out _);

    public void Dispose() => _calls.Dispose();

    public async Task HandleAsync(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var request = http.Request;
        var response = http.Response;
        var contentType = request.ContentType;
        if (!HttpMethods.IsPost(request.Method) || contentType is null
            || !(contentType.Equals(GrpcWire.ContentType, StringComparison.OrdinalIgnoreCase)
                 || contentType.StartsWith(GrpcWire.ContentType + "+proto", StringComparison.OrdinalIgnoreCase)
                 || contentType.StartsWith(GrpcWire.ContentType + ";", StringComparison.OrdinalIgnoreCase)))
        {
            // Not a gRPC request: plain HTTP answer, as the protocol asks.
            response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            return;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = GrpcWire.ContentType;
        response.Headers["grpc-accept-encoding"] = "identity";
        var call = new Call(http);
        var path = request.Path.Value ?? string.Empty;

        _callers.TryGetValue(http.Connection.Id, out var connection);
        if (!connection.Allowed || connection.Peer is not { } caller)
        {
            var peer = connection.Peer;
            var who = peer is null ? "unknown caller" : $"uid {peer.Uid} gid {(peer.Gid == PeerCredentials.NoGid ? "?" : peer.Gid)}";
            AuditRefusedCaller(peer, path);
            logger.LogWarning("refused {Caller} calling {Path}: not on the allow-list", who, path);
            await call.FinishAsync(StatusCode.PermissionDenied, $"{who} is not allowed to call this daemon").ConfigureAwait(false);
            return;
        }

        if (!registry.TryGet(path, out var method))
        {
            await call.FinishAsync(StatusCode.Unimplemented, $"unknown method {path}").ConfigureAwait(false);
            return;
        }

        var encoding = request.Headers["grpc-encoding"].ToString();
        if (encoding.Length > 0 && !encoding.Equals("identity", StringComparison.Ordinal))
        {
            await call.FinishAsync(StatusCode.Unimplemented, $"grpc-encoding '{encoding}' is not supported: send uncompressed messages").ConfigureAwait(false);
            return;
        }

        DateTimeOffset? deadline = null;
        var timeoutHeader = request.Headers["grpc-timeout"].ToString();
        if (timeoutHeader.Length > 0)
        {
            if (!GrpcWire.TryParseTimeout(timeoutHeader, out var timeout))
            {
                await call.FinishAsync(StatusCode.InvalidArgument, $"malformed grpc-timeout header '{timeoutHeader}'").ConfigureAwait(false);
                return;
            }

            deadline = DateTimeOffset.UtcNow + timeout;
        }

        if (!_calls.Wait(0))
        {
            await call.FinishAsync(StatusCode.ResourceExhausted, $"too many calls in progress (limit {options.MaxConcurrentCalls}); try again").ConfigureAwait(false);
            return;
        }

        var released = 0;
        void Release()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                _calls.Release();
            }
        }

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, stopping);
        if (deadline is { } d)
        {
            var left = d - DateTimeOffset.UtcNow;
            cancel.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        }

        Task? running = null;
        try
        {
            var payload = await ReadRequestAsync(request.BodyReader, options.MaxMessageBytes, cancel.Token).ConfigureAwait(false);
            var context = new CallContext
            {
                Uid = caller.Uid,
                Gid = caller.Gid,
                Pid = caller.Pid,
                Method = path,
                Deadline = deadline,
                CancellationToken = cancel.Token,
            };

            // Key operations are synchronous device calls: run them off the request so the deadline can still be
            // answered, and keep the concurrency slot until the device call has really ended.
            running = Task.Run(() => method.Invoke(payload, message => call.WriteAsync(message, cancel.Token), context), CancellationToken.None);
            _ = running.ContinueWith(
                t =>
                {
                    _ = t.Exception;

                    // The request's bytes may carry a PIN (the services wipe the parsed copy): wipe them once the
                    // method has really ended, even when the caller stopped waiting at its deadline.
                    CryptographicOperations.ZeroMemory(payload);
                    Release();
                },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
            await running.WaitAsync(cancel.Token).ConfigureAwait(false);
            if (!method.ServerStreaming && call.MessagesWritten != 1)
            {
                throw new RpcException(StatusCode.Internal, "the method produced no response");
            }

            await call.FinishAsync(StatusCode.OK, null).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            await call.FinishAsync(e.Status, e.Message).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline is { } end && DateTimeOffset.UtcNow >= end && !http.RequestAborted.IsCancellationRequested)
        {
            await call.FinishAsync(StatusCode.DeadlineExceeded, "deadline exceeded").ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client cancelled or went away: nobody is left to answer.
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            await call.FinishAsync(StatusCode.Unavailable, "the daemon is stopping").ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            logger.LogError("{Path} failed: {Type}: {Message}", path, e.GetType().Name, e.Message);
            await call.FinishAsync(StatusCode.Internal, "internal error; the daemon's log has the details").ConfigureAwait(false);
        }
        finally
        {
            if (running is null)
            {
                Release();
            }
        }
    }

    /// <summary>Reads the single request message: prefix first, limit checked before the payload is allocated.</summary>
    internal static async Task<byte[]> ReadRequestAsync(PipeReader reader, int maxMessageBytes, CancellationToken cancellationToken)
    {
        var result = await FillAsync(reader, GrpcWire.PrefixLength, cancellationToken).ConfigureAwait(false);
        var buffer = result.Buffer;
        if (buffer.Length == 0)
        {
            throw new RpcException(StatusCode.Internal, "the request carries no message");
        }

        if (buffer.Length < GrpcWire.PrefixLength)
        {
            throw new RpcException(StatusCode.Internal, $"the request ends inside the 5-byte message prefix ({buffer.Length} bytes)");
        }

        Span<byte> prefix = stackalloc byte[GrpcWire.PrefixLength];
        buffer.Slice(0, GrpcWire.PrefixLength).CopyTo(prefix);
        bool compressed;
        uint length;
        try
        {
            (compressed, length) = GrpcWire.ReadPrefix(prefix);
        }
        catch (FormatException e)
        {
            throw new RpcException(StatusCode.Internal, "malformed message prefix: " + e.Message);
        }

        if (compressed)
        {
            throw new RpcException(StatusCode.Unimplemented, "compressed messages are not supported: send uncompressed messages");
        }

        if (length > (uint)maxMessageBytes)
        {
            throw new RpcException(StatusCode.ResourceExhausted, $"request message of {length} bytes exceeds the limit of {maxMessageBytes} bytes");
        }

        reader.AdvanceTo(buffer.GetPosition(GrpcWire.PrefixLength));
        var need = (int)length;
        result = await FillAsync(reader, need, cancellationToken).ConfigureAwait(false);
        buffer = result.Buffer;
        if (buffer.Length < need)
        {
            throw new RpcException(StatusCode.Internal, $"the request ends after {buffer.Length} of the {need} bytes its prefix announces");
        }

        var payload = buffer.Slice(0, need).ToArray();
        reader.AdvanceTo(buffer.GetPosition(need));

        result = await FillAsync(reader, 1, cancellationToken).ConfigureAwait(false);
        if (result.Buffer.Length > 0)
        {
            throw new RpcException(StatusCode.Internal, "a unary or server-streaming call carries more than one request message");
        }

        reader.AdvanceTo(result.Buffer.End);
        return payload;
    }

    private static async Task<ReadResult> FillAsync(PipeReader reader, long need, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (result.Buffer.Length >= need || result.IsCompleted || result.IsCanceled)
            {
                return result;
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private void AuditRefusedCaller(PeerCredentials? caller, string path)
    {
        try
        {
            audit.Append(new AuditEvent(AuditEventKind.CallerRefused)
            {
                CallerUid = caller?.Uid,
                Detail = caller is null
                    ? $"{path}: caller credentials unavailable"
                    : string.Create(CultureInfo.InvariantCulture, $"{path}: uid {caller.Uid} gid {caller.Gid} pid {caller.Pid} not on the allow-list"),
            });
        }
        catch (IOException e)
        {
            logger.LogError("audit log write failed: {Message}", e.Message);
        }
    }

    /// <summary>The response side of one call: messages, then status exactly once.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification = "The semaphore never allocates a wait handle, and a method still running after its deadline may use it after the call has ended.")]
    private sealed class Call(HttpContext http)
    {
        // Writes and the final status are serialized, and nothing is written once the status is decided: a method
        // still running after its deadline must not touch a response that has already ended.
        private readonly SemaphoreSlim _gate = new(1, 1);
        private bool _finished;

        public int MessagesWritten { get; private set; }

        public async Task WriteAsync(IMessage message, CancellationToken cancellationToken)
        {
            var size = message.CalculateSize();
            var frame = ArrayPool<byte>.Shared.Rent(GrpcWire.PrefixLength + size);
            try
            {
                GrpcWire.WritePrefix(frame, size);
                message.WriteTo(frame.AsSpan(GrpcWire.PrefixLength, size));
                await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    if (_finished)
                    {
                        throw new OperationCanceledException("the call has already ended");
                    }

                    MessagesWritten++;
                    await http.Response.Body.WriteAsync(frame.AsMemory(0, GrpcWire.PrefixLength + size), cancellationToken).ConfigureAwait(false);
                    await http.Response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    _gate.Release();
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(frame);
            }
        }

        public async Task FinishAsync(StatusCode status, string? message)
        {
            await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            try
            {
                if (_finished)
                {
                    return;
                }

                _finished = true;
                var code = ((int)status).ToString(CultureInfo.InvariantCulture);
                var response = http.Response;
                if (!response.HasStarted)
                {
                    // Trailers-only response: the status travels in the only HEADERS frame.
                    response.Headers["grpc-status"] = code;
                    if (!string.IsNullOrEmpty(message))
                    {
                        response.Headers["grpc-message"] = GrpcWire.EncodeMessage(message);
                    }

                    return;
                }

                response.AppendTrailer("grpc-status", code);
                if (!string.IsNullOrEmpty(message))
                {
                    response.AppendTrailer("grpc-message", GrpcWire.EncodeMessage(message));
                }
            }
            finally
            {
                _gate.Release();
            }
        }
    }
}
