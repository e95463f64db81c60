namespace OfflineSigner.Pkcs11.Interop;

/// <summary>
/// One PKCS#11 module as loaded in this process: the library, its function table, and its initialization state.
/// Shared by every <see cref="Pkcs11Module"/> opened on the same path, because C_Initialize is per process.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Lives as long as the process (the registry never drops a loaded module); session handles may still take the lock while being released.")]
internal sealed unsafe class Pkcs11ModuleCore
{
    // Readers are ordinary calls; the writer is C_Finalize/C_Initialize, which invalidates every session.
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.SupportsRecursion);
    private bool _initialized;
    private bool _ownsInitialization;
    private long _generation;

    public Pkcs11ModuleCore(string path, SafeLibraryHandle library, Pkcs11FunctionList functions)
    {
        Path = path;
        Library = library;
        Functions = functions;
    }

    public string Path { get; }

    /// <summary>The loaded library; never released once the module loaded (vendor modules may not survive unloading).</summary>
    public SafeLibraryHandle Library { get; }

    public Pkcs11FunctionList Functions { get; }

    /// <summary>Incremented by every successful C_Initialize: sessions from an older generation are dead.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    public int References { get; set; }

    public ReadScope EnterCall()
    {
        _lock.EnterReadLock();
        if (!_initialized)
        {
            _lock.ExitReadLock();
            throw new Pkcs11Exception("C_Initialize", Ckr.CryptokiNotInitialized, "the module " + Path + " is finalized");
        }

        return new ReadScope(_lock);
    }

    public void Initialize()
    {
        _lock.EnterWriteLock();
        try
        {
            InitializeLocked();
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public void FinalizeModule()
    {
        _lock.EnterWriteLock();
        try
        {
            FinalizeLocked();
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// <summary>
    /// C_Finalize then C_Initialize, so that the module rescans its tokens (SoftHSM, for one, only sees tokens
    /// created or restored after start-up that way). Skipped when another caller already did it since
    /// <paramref name="observedGeneration"/>. Every session of every token on this module is invalidated.
    /// </summary>
    public void Reinitialize(long observedGeneration)
    {
        _lock.EnterWriteLock();
        try
        {
            if (Generation != observedGeneration && _initialized)
            {
                return;
            }

            FinalizeLocked();
            InitializeLocked();
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public void CloseSessionIfCurrent(CkUlong session, long generation)
    {
        if (!_lock.TryEnterReadLock(TimeSpan.FromSeconds(30)))
        {
            return;
        }

        try
        {
            if (_initialized && Generation == generation)
            {
                // The result does not matter: a session that cannot be closed is already gone.
                _ = Functions.CloseSession(session);
            }
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    private void InitializeLocked()
    {
        if (_initialized)
        {
            return;
        }

        var args = new CkCInitializeArgs { Flags = Ckf.OsLockingOk };
        var rv = Functions.Initialize(&args);
        if (rv == Ckr.CryptokiAlreadyInitialized)
        {
            // Another component of this process initialized the module; it keeps the right to finalize it.
            _ownsInitialization = false;
        }
        else if (rv == Ckr.Ok)
        {
            _ownsInitialization = true;
        }
        else
        {
            throw new Pkcs11Exception("C_Initialize", rv, "module " + Path);
        }

        _initialized = true;
        Interlocked.Increment(ref _generation);
    }

    private void FinalizeLocked()
    {
        if (!_initialized)
        {
            return;
        }

        _initialized = false;
        if (_ownsInitialization)
        {
            // C_Finalize fails only when the module was not initialized, which is the state we want anyway.
            _ = Functions.Finalize(0);
        }
    }

    /// <summary>Holds the module's read lock for the length of a call.</summary>
    public readonly struct ReadScope : IDisposable
    {
        private readonly ReaderWriterLockSlim _lock;

        public ReadScope(ReaderWriterLockSlim @lock)
        {
            _lock = @lock;
        }

        public void Dispose() => _lock.ExitReadLock();
    }
}

/// <summary>Loads libraries and keeps one <see cref="Pkcs11ModuleCore"/> per path.</summary>
internal static unsafe class Pkcs11ModuleRegistry
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, Pkcs11ModuleCore> Modules = new(StringComparer.Ordinal);

    public static Pkcs11ModuleCore Acquire(string path)
    {
        Pkcs11Layout.EnsureSupportedPlatform();
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!System.IO.Path.IsPathRooted(path))
        {
            throw new Pkcs11ModuleException($"PKCS#11 module path '{path}' is not absolute; configure the full path of the module");
        }

        var fullPath = System.IO.Path.GetFullPath(path);
        lock (Gate)
        {
            if (!Modules.TryGetValue(fullPath, out var core))
            {
                core = Load(fullPath);
                Modules.Add(fullPath, core);
            }

            if (core.References == 0)
            {
                core.Initialize();
            }

            core.References++;
            return core;
        }
    }

    /// <summary>Whether a module at <paramref name="path"/> is initialized in this process (for tests and diagnostics).</summary>
    public static bool IsInitialized(string path)
    {
        lock (Gate)
        {
            return Modules.TryGetValue(System.IO.Path.GetFullPath(path), out var core) && core.References > 0;
        }
    }

    /// <summary>The paths of the modules initialized in this process (for tests and diagnostics).</summary>
    public static IReadOnlyList<string> InitializedModules()
    {
        lock (Gate)
        {
            return [.. Modules.Where(kv => kv.Value.References > 0).Select(kv => kv.Key)];
        }
    }

    public static void Release(Pkcs11ModuleCore core)
    {
        lock (Gate)
        {
            core.References--;
            if (core.References == 0)
            {
                // The library itself stays loaded: several vendor modules register atexit handlers or threads
                // and crash when unloaded, and a later Acquire reuses the handle.
                core.FinalizeModule();
            }
        }
    }

    private static Pkcs11ModuleCore Load(string fullPath)
    {
        if (Directory.Exists(fullPath))
        {
            throw new Pkcs11ModuleException($"PKCS#11 module {fullPath} is a directory, not a shared library");
        }

        if (!File.Exists(fullPath))
        {
            throw new Pkcs11ModuleException($"PKCS#11 module {fullPath} does not exist");
        }

        SafeLibraryHandle library;
        try
        {
            library = SafeLibraryHandle.Load(fullPath);
        }
        catch (DllNotFoundException e)
        {
            throw new Pkcs11ModuleException($"{fullPath} is not a loadable shared library: {e.Message}", e);
        }
        catch (BadImageFormatException e)
        {
            throw new Pkcs11ModuleException($"{fullPath} is not a shared library for this platform: {e.Message}", e);
        }

        try
        {
            if (!library.TryGetExport("C_GetFunctionList", out var getFunctionList))
            {
                throw new Pkcs11ModuleException($"{fullPath} is not a PKCS#11 module: it exports no C_GetFunctionList");
            }

            nint table = 0;
            var rv = ((delegate* unmanaged<nint*, CkUlong>)getFunctionList)(&table);
            if (rv != Ckr.Ok || table == 0)
            {
                throw new Pkcs11ModuleException(
                    $"{fullPath} is not a usable PKCS#11 module: C_GetFunctionList returned {Pkcs11Exception.NameOf(rv)}");
            }

            var functions = Pkcs11FunctionList.FromTable(table);
            if (functions.Version.Major < 2)
            {
                throw new Pkcs11ModuleException(
                    $"{fullPath} reports Cryptoki {functions.Version.Major}.{functions.Version.Minor}; version 2.x or later is required");
            }

            return new Pkcs11ModuleCore(fullPath, library, functions);
        }
        catch
        {
            library.Dispose();
            throw;
        }
    }
}
