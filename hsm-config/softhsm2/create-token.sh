#!/bin/sh
# Creates a SoftHSM 2 token in its own directory, for tests, demos and the embedded default backend.
#
#   create-token.sh --dir DIR --label LABEL [--user-pin-file FILE] [--so-pin-file FILE]
#
# Writes DIR/softhsm2.conf (from softhsm2.conf.template) and DIR/tokens/, then initializes one token.
# PINs come from the named files (first line), or, for any PIN without a file, from standard input
# (first line the user PIN, second line the SO PIN). They are never taken from this script's own arguments.
#
# Caveat: softhsm2-util itself only accepts PINs as --pin/--so-pin arguments, so for the few milliseconds it
# runs they are visible in /proc/<pid>/cmdline to other users of the machine. That is acceptable only for
# throwaway test and demo tokens. For a token that guards real keys, initialize it on an offline machine with
# softhsm2-util's interactive prompts (omit --pin/--so-pin) or with the HSM vendor's ceremony tools.
# On success prints the line SOFTHSM2_CONF=DIR/softhsm2.conf.
set -eu

usage() {
    echo "usage: $0 --dir DIR --label LABEL [--user-pin-file FILE] [--so-pin-file FILE]" >&2
    exit 2
}

dir=""
label=""
user_pin_file=""
so_pin_file=""
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) [ $# -ge 2 ] || usage; dir=$2; shift 2 ;;
        --label) [ $# -ge 2 ] || usage; label=$2; shift 2 ;;
        --user-pin-file) [ $# -ge 2 ] || usage; user_pin_file=$2; shift 2 ;;
        --so-pin-file) [ $# -ge 2 ] || usage; so_pin_file=$2; shift 2 ;;
        -h|--help) usage ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
done
[ -n "$dir" ] && [ -n "$label" ] || usage

command -v softhsm2-util >/dev/null 2>&1 || { echo "softhsm2-util not found (apt-get install softhsm2)" >&2; exit 3; }

read_pin_file() {
    # First line of the file, without its newline.
    [ -r "$1" ] || { echo "cannot read PIN file $1" >&2; exit 4; }
    head -n 1 "$1" | tr -d '\r\n'
}

if [ -n "$user_pin_file" ]; then
    user_pin=$(read_pin_file "$user_pin_file")
else
    IFS= read -r user_pin || { echo "no user PIN on standard input" >&2; exit 4; }
fi
if [ -n "$so_pin_file" ]; then
    so_pin=$(read_pin_file "$so_pin_file")
else
    IFS= read -r so_pin || { echo "no SO PIN on standard input" >&2; exit 4; }
fi
user_pin=$(printf '%s' "$user_pin" | tr -d '\r')
so_pin=$(printf '%s' "$so_pin" | tr -d '\r')
[ ${#user_pin} -ge 4 ] || { echo "the user PIN must have at least 4 characters" >&2; exit 4; }
[ ${#so_pin} -ge 4 ] || { echo "the SO PIN must have at least 4 characters" >&2; exit 4; }

here=$(cd "$(dirname "$0")" && pwd)
umask 077
mkdir -p "$dir/tokens"
dir=$(cd "$dir" && pwd)
conf="$dir/softhsm2.conf"
if [ ! -f "$conf" ]; then
    sed "s|@TOKENDIR@|$dir/tokens|" "$here/softhsm2.conf.template" > "$conf"
fi

SOFTHSM2_CONF=$conf
export SOFTHSM2_CONF
# See the caveat above: softhsm2-util takes the PINs as arguments.
softhsm2-util --init-token --free --label "$label" --pin "$user_pin" --so-pin "$so_pin" >/dev/null
user_pin=""
so_pin=""
echo "SOFTHSM2_CONF=$conf"
