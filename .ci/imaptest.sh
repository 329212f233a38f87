#!/usr/bin/env bash
# Dovecot's imaptest scripted suite (the 71 tests in its src/tests) against a real server over
# implicit TLS; fails when any test fails. Called from .ci/run; also runs on its own:
#
#   bash .ci/imaptest.sh [TEST_NAME...]      # all tests, or only the named ones
#
# Builds imaptest from ../shared/tools/ (needs root for apt-get the first time), builds the
# server (debug), starts it on ephemeral loopback ports with a fresh data directory, makes a
# test inbox through the HTTP API, then runs each test once.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOOLS=${IMAPTEST_TOOLS:-$ROOT/../shared/tools}
BUILD=${IMAPTEST_BUILD:-/tmp/imaptest-build}

if ! command -v imaptest >/dev/null || [ ! -d "$BUILD/src/tests" ]; then
  # imaptest links against Dovecot's libraries (libdovecot from dovecot-core).
  if ! dpkg -s dovecot-core >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq dovecot-core >/dev/null
  fi
  bash "$TOOLS/build-imaptest.sh" "$BUILD" >/dev/null
fi
TESTS="$BUILD/src/tests"

cargo build --locked -q --bin mailroom
BIN="$ROOT/target/debug/mailroom"

WORK=$(mktemp -d /tmp/mailroom-imaptest.XXXXXX)
TOKEN="sa_imaptest_admin_token_$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
cat >"$WORK/mailroom.toml" <<EOF
hostname = "mail.example.test"
domains = ["example.test"]
data_dir = "$WORK/data"

[tls]
cert = "$WORK/cert.pem"
key = "$WORK/key.pem"

[smtp]
mx = ["127.0.0.1:0"]
submission = ["127.0.0.1:0"]
submissions = ["127.0.0.1:0"]

[imap]
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.1:0"]

[api]
listen = ["127.0.0.1:0"]

[auth]
argon2_memory_kib = 1024
argon2_iterations = 1
EOF

MAILROOM_ADMIN_TOKEN="$TOKEN" RUST_LOG=warn,mailroom=info "$BIN" serve --config "$WORK/mailroom.toml" \
  >"$WORK/server.log" 2>&1 &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

for _ in $(seq 1 300); do
  grep -q ' ready' "$WORK/server.log" && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
  sleep 0.1
done
addr_of() { sed -n "s/.*listening kind=\"\{0,1\}$1\"\{0,1\} addr=\([0-9.:]*\).*/\1/p" "$WORK/server.log" | head -1; }
IMAPS=$(addr_of imaps)
API=$(addr_of api)
[ -n "$IMAPS" ] && [ -n "$API" ] || { echo "no listener addresses in the log:"; cat "$WORK/server.log"; exit 1; }

json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
TK=$(curl -sf -X POST "http://$API/v1/tenants" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"name": "imaptest"}' | json_field apiKey)
PASS=$(curl -sf -X POST "http://$API/v1/inboxes" -H "Authorization: Bearer $TK" \
  -H 'Content-Type: application/json' -d '{"username": "imaptest"}' | json_field imapPassword)
USER_NAME=imaptest@example.test

if [ $# -gt 0 ]; then
  names=("$@")
else
  names=()
  for f in "$TESTS"/*; do
    # tests/broken/ holds the tests imaptest's authors consider broken.
    [ -f "$f" ] || continue
    case "$f" in *.mbox) continue ;; esac
    names+=("$(basename "$f")")
  done
fi

failed=()
for name in "${names[@]}"; do
  out=$(timeout 120 imaptest host="${IMAPS%:*}" port="${IMAPS##*:}" ssl=any-cert user="$USER_NAME" \
    pass="$PASS" test="$TESTS/$name" 2>&1) || true
  # imaptest ends with "N test groups: F failed, S skipped due to missing capabilities"
  summary=$(printf '%s\n' "$out" | grep -E '^[0-9]+ test groups: ' | tail -1)
  if [ -z "$summary" ] || ! printf '%s' "$summary" | grep -qE ': 0 failed' \
    || printf '%s\n' "$out" | grep -qE '^(Error|Panic|Fatal):'; then
    failed+=("$name")
    echo "FAIL $name"
    printf '%s\n' "$out" | tail -40 | sed 's/^/    /'
  else
    echo "ok   $name ($summary)"
  fi
done

echo "imaptest: ${#names[@]} tests, ${#failed[@]} failed${failed:+: ${failed[*]}}"
[ ${#failed[@]} -eq 0 ]
