#!/usr/bin/env bash
# Dovecot's imaptest scripted suite (the 71 tests in its src/tests) against a real server over
# implicit TLS; fails when any test fails. Called from .ci/run; also runs on its own:
#
#   bash .ci/imaptest.sh [TEST_NAME...]      # all tests, or only the named ones
#   bash .ci/imaptest.sh stress clients=10 secs=300 [logout=0 ...]
#                                            # stress mode over a generated mbox; fails on any error
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
# Every stress client logs in as the same user.
max_connections_per_user = 500
max_connections_per_ip = 1000

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

if [ "${1:-}" = stress ]; then
  shift
  # Varied messages for the stress mode to append: plain, MIME with attachments,
  # encoded headers, several recipients, and one larger body.
  python3 - "$WORK/stress.mbox" <<'PY'
import sys
out = open(sys.argv[1], "w", newline="")
for i in range(60):
    kind = i % 4
    head = (f"From: Sender {i} <sender{i}@example.org>\r\nTo: Rcpt <rcpt{i % 7}@example.test>, other@example.net\r\n"
            f"Cc: =?utf-8?q?J=C3=B6rg?= <j{i}@example.com>\r\nSubject: stress message {i} {'x' * (i % 13)}\r\n"
            f"Message-ID: <s{i}@example.org>\r\nDate: Mon, {1 + i % 28} Mar 2026 10:{i % 60:02d}:00 +0000\r\n")
    if kind == 0:
        body = head + "\r\n" + f"Plain body {i}\r\n" * (1 + i % 5)
    elif kind == 1:
        body = (head + "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                "Gr=C3=BC=C3=9Fe\r\n--b\r\nContent-Type: application/octet-stream; name=a.bin\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgc=\r\n--b--\r\n")
    elif kind == 2:
        body = (head + "MIME-Version: 1.0\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n"
                + "<p>" + "word " * 2000 + "</p>\r\n")
    else:
        body = (head + "MIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n"
                "From: inner@example.org\r\nSubject: inner\r\n\r\ninner body\r\n")
    out.write(f"From sender{i}@example.org Mon Mar  2 10:00:00 2026\n")
    out.write(body.replace("\r\n", "\n").replace("\nFrom ", "\n>From "))
    out.write("\n")
PY
  status=0
  out=$(imaptest host="${IMAPS%:*}" port="${IMAPS##*:}" ssl=any-cert user="$USER_NAME" pass="$PASS" \
    mbox="$WORK/stress.mbox" "$@" 2>&1) || status=$?
  printf "%s\n" "$out" | grep -E "^Error: " | sort | uniq -c | sort -rn | head -20 || true
  printf "%s\n" "$out" | tail -6
  errors=$(printf '%s\n' "$out" | grep -cE '^Error: ' || true)
  echo "imaptest stress $*: exit $status, $errors error lines"
  [ "$status" -eq 0 ] && [ "$errors" -eq 0 ]
  exit
fi

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
