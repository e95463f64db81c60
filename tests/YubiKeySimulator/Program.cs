using System.Globalization;
using OfflineSigner.YubiKeySimulator;

// yubikey-simulator: a simulated YubiKey 5 PIV card for pcscd's vpcd reader, for tests, demos and benchmarks only.
//   yubikey-simulator [--host 127.0.0.1] [--port 35963] [--state FILE] [--ca DIR] [--serial N] [--firmware 5.4.3]
//                     [--touch auto|delay:MS|refuse] [--form-factor N] [--apdu-log FILE]
// Reads commands on stdin: "remove", "insert", "quit". Prints "ready serial=N" once vpcd took the card.
var host = "127.0.0.1";
var port = 35963;
string? state = null;
string? caDir = null;
var options = new CardOptions();
string? apduLog = null;
for (var i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--host":
            host = Next();
            break;
        case "--port":
            port = int.Parse(Next(), CultureInfo.InvariantCulture);
            break;
        case "--state":
            state = Next();
            break;
        case "--ca":
            caDir = Next();
            break;
        case "--serial":
            options = options with { Serial = uint.Parse(Next(), CultureInfo.InvariantCulture) };
            break;
        case "--firmware":
            var parts = Next().Split('.').Select(p => byte.Parse(p, CultureInfo.InvariantCulture)).ToArray();
            options = options with { Firmware = (parts[0], parts[1], parts[2]) };
            break;
        case "--form-factor":
            options = options with { FormFactor = byte.Parse(Next(), CultureInfo.InvariantCulture) };
            break;
        case "--touch":
            var touch = Next();
            options = touch switch
            {
                "auto" => options with { Touch = TouchMode.Auto },
                "refuse" => options with { Touch = TouchMode.Refuse },
                _ when touch.StartsWith("delay:", StringComparison.Ordinal) => options with
                {
                    Touch = TouchMode.Delay,
                    TouchDelay = TimeSpan.FromMilliseconds(int.Parse(touch[6..], CultureInfo.InvariantCulture)),
                },
                _ => throw new ArgumentException("--touch is auto, refuse or delay:MS"),
            };
            break;
        case "--apdu-log":
            apduLog = Next();
            break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}");
            return 2;
    }
}

using var ca = caDir is null ? SimulatorCa.Create() : SimulatorCa.LoadOrCreate(caDir);
using var key = VirtualYubiKey.Connect(host, port, options with { StatePath = state }, ca);
key.Card.LogPath = apduLog;
Console.WriteLine($"ready serial={key.Serial}");
string? line;
while ((line = Console.ReadLine()) is not null)
{
    switch (line.Trim())
    {
        case "remove":
            key.Remove();
            Console.WriteLine("removed");
            break;
        case "insert":
            key.Reinsert();
            Console.WriteLine("inserted");
            break;
        case "quit":
            return 0;
        default:
            Console.WriteLine("commands: remove, insert, quit");
            break;
    }
}

return 0;
