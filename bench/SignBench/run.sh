#!/bin/sh
# Sign RPC benchmark: offline-signerd (SoftHSM2, Unix socket) vs notary-signer (memory store, TLS loopback), one
# run, one client; plus the PKCS#11 backend's direct rate. Prints a table and the ratios.
#   bench/SignBench/run.sh [SECONDS_PER_WORKLOAD]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ -f /usr/lib/softhsm/libsofthsm2.so ] || { echo "SoftHSM is not installed (apt-get install softhsm2)" >&2; exit 3; }
command -v notary-signer >/dev/null || { echo "notary-signer is not installed (apt-get install notary)" >&2; exit 3; }

work=$(mktemp -d)
cleanup() { [ -n "${notary_pid:-}" ] && kill "$notary_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT INT TERM
umask 077
printf '1234\n' > "$work/user.pin"
printf '1234\n5678\n' | "$root/hsm-config/softhsm2/create-token.sh" --dir "$work" --label signbench >/dev/null
SOFTHSM2_CONF=$work/softhsm2.conf
export SOFTHSM2_CONF

# A throwaway CA and server certificate for notary-signer's TLS listener.
mkdir "$work/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca \
    -keyout "$work/tls/ca.key" -out "$work/tls/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout "$work/tls/server.key" -out "$work/tls/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$work/tls/ext"
openssl x509 -req -in "$work/tls/server.csr" -CA "$work/tls/ca.pem" -CAkey "$work/tls/ca.key" -CAcreateserial \
    -days 2 -extfile "$work/tls/ext" -out "$work/tls/server.pem" 2>/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/notary-signer.json" <<JSON
{ "server": { "grpc_addr": "127.0.0.1:$port", "tls_cert_file": "$work/tls/server.pem", "tls_key_file": "$work/tls/server.key" },
  "logging": { "level": "error" },
  "storage": { "backend": "memory" } }
JSON
notary-signer -config "$work/notary-signer.json" >"$work/notary-signer.log" 2>&1 &
notary_pid=$!
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break; sleep 0.1; done

artifacts=${OFFLINESIGNER_ARTIFACTS:-$work/artifacts}
OFFLINESIGNER_ARTIFACTS=$artifacts dotnet build -c Release "$here/SignBench.csproj" -v quiet -nologo >/dev/null
dll=$(find "$artifacts/bin/SignBench" -name SignBench.dll -path '*release*' | head -n 1)
dotnet "$dll" "$work" signbench "$work/user.pin" "$work/tls" "$port" "${1:-5}"
