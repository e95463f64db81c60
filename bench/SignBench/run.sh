#!/bin/sh
# Sign RPC benchmark, one run, one client: offline-signerd (SoftHSM2 token, Unix socket) and notary-signer (memory
# store, gRPC over TLS on loopback) at concurrency 1 and 8, then the PKCS#11 backend's direct in-process rate on the
# same token and key, and where a daemon Sign call's time goes. Builds in Release; prints the table, ratios, verdicts.
#   bench/SignBench/run.sh [MIN_SECONDS] [MIN_CALLS]      (defaults: 10 and 2000 per workload; cap 6 x MIN_SECONDS)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ -f /usr/lib/softhsm/libsofthsm2.so ] || { echo "SoftHSM is not installed (apt-get install softhsm2)" >&2; exit 3; }
command -v notary-signer >/dev/null || { echo "notary-signer is not installed (apt-get install notary)" >&2; exit 3; }
command -v openssl >/dev/null || { echo "openssl is needed" >&2; exit 3; }

work=$(mktemp -d)
notary_pid=
cleanup() {
    if [ -n "$notary_pid" ]; then kill "$notary_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
umask 077

# A throwaway token with throwaway PINs (create-token.sh reads the user PIN, then the SO PIN, from stdin).
printf '1234\n' > "$work/user.pin"
printf '1234\n5678\n' | "$root/hsm-config/softhsm2/create-token.sh" --dir "$work" --label signbench >/dev/null
SOFTHSM2_CONF=$work/softhsm2.conf
export SOFTHSM2_CONF

# A throwaway CA and a server certificate for notary-signer's TLS listener (it refuses to serve without TLS).
mkdir "$work/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=signbench-ca \
    -keyout "$work/tls/ca.key" -out "$work/tls/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout "$work/tls/server.key" -out "$work/tls/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$work/tls/ext"
openssl x509 -req -in "$work/tls/server.csr" -CA "$work/tls/ca.pem" -CAkey "$work/tls/ca.key" -CAcreateserial \
    -days 2 -extfile "$work/tls/ext" -out "$work/tls/server.pem" 2>/dev/null

# notary-signer with its memory key store on a free loopback port. The memory store encrypts keys with a constant
# passphrase; the passphrase alias (storage.default_alias, or NOTARY_SIGNER_DEFAULT_ALIAS with the passphrase in
# NOTARY_SIGNER_<ALIAS>) is read only by the SQL and RethinkDB stores. Set anyway, so the run does not depend on it.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/notary-signer.json" <<JSON
{ "server": { "grpc_addr": "127.0.0.1:$port", "tls_cert_file": "$work/tls/server.pem", "tls_key_file": "$work/tls/server.key" },
  "logging": { "level": "error" },
  "storage": { "backend": "memory" } }
JSON
NOTARY_SIGNER_DEFAULT_ALIAS=signbench NOTARY_SIGNER_SIGNBENCH=signbench-throwaway-passphrase \
    notary-signer -config "$work/notary-signer.json" >"$work/notary-signer.log" 2>&1 &
notary_pid=$!
for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break
    kill -0 "$notary_pid" 2>/dev/null || break
    sleep 0.1
done
kill -0 "$notary_pid" 2>/dev/null || { echo "notary-signer did not start:" >&2; cat "$work/notary-signer.log" >&2; exit 1; }

artifacts=${OFFLINESIGNER_ARTIFACTS:-$work/artifacts}
OFFLINESIGNER_ARTIFACTS=$artifacts dotnet build -c Release "$here/SignBench.csproj" -v quiet -nologo >/dev/null
dll=$(find "$artifacts/bin/SignBench" -name SignBench.dll -path '*release*' | head -n 1)
echo "notary-signer: $(dpkg-query -W -f='${Version}' notary 2>/dev/null || echo unknown); SoftHSM2: $(dpkg-query -W -f='${Version}' softhsm2 2>/dev/null || echo unknown)"
dotnet "$dll" "$work" signbench "$work/user.pin" "$work/tls" "$port" "$notary_pid" "${1:-10}" "${2:-2000}"
