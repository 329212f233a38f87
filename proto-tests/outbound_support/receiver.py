"""A small SMTP receiver for the outbound tests (the far end of our deliveries).

Listens on 127.0.0.1 (any free port), prints "PORT <n>" and then one JSON line per
event on stdout: {"event": "connect"}, {"event": "message", ...}, {"event":
"deferred"|"rejected"|"dropped", ...}. Behaviour:

  --plan 451,550,drop,ok   one action per transaction, in order, then "ok":
                           451 = temporary failure after the data, 550 = refuse
                           at RCPT, drop = close the connection in the middle of
                           DATA, ok = accept
  --reject ADDR            550 5.1.1 at RCPT for this recipient (repeatable)
  --tls CERT KEY           offer STARTTLS with this certificate
  --auth USER:PASS         offer AUTH PLAIN and require it before MAIL
  --no-pipelining          do not advertise PIPELINING
  --hold SECS              wait this long before answering the end of DATA
                           ("connect" events carry how many sessions are open)
  --max-line N             refuse a message with a line over N octets (CRLF not
                           counted) after its data, as Exim 4.95+ does at 998
"""

import argparse
import asyncio
import base64
import json
import ssl
import sys

p = argparse.ArgumentParser()
p.add_argument("--plan", default="")
p.add_argument("--reject", action="append", default=[])
p.add_argument("--tls", nargs=2)
p.add_argument("--auth")
p.add_argument("--no-pipelining", action="store_true")
p.add_argument("--hold", type=float, default=0)
p.add_argument("--max-line", type=int, default=0)
args = p.parse_args()
plan = [a for a in args.plan.split(",") if a]
rejected = {r.lower() for r in args.reject}


def emit(**event):
    print(json.dumps(event), flush=True)


open_sessions = 0


def path(arg):
    """The address in `<...>` at the start of arg; a quoted local part may hold '>'."""
    out, quoted, escaped = "", False, False
    for c in arg.lstrip("<"):
        if escaped:
            escaped = False
        elif c == "\\" and quoted:
            escaped = True
        elif c == '"':
            quoted = not quoted
        elif c == ">" and not quoted:
            break
        out += c
    return out


async def session(reader, writer):
    global open_sessions
    open_sessions += 1
    emit(event="connect", open=open_sessions)
    try:
        await converse(reader, writer)
    finally:
        open_sessions -= 1


async def converse(reader, writer):
    tls = False
    authed = None
    mail_from, rcpts = None, []

    async def send(line):
        writer.write(line.encode() + b"\r\n")
        await writer.drain()

    async def hello():
        caps = ["receiver.test"]
        if not args.no_pipelining:
            caps.append("PIPELINING")
        caps += ["SIZE 10000000", "8BITMIME", "SMTPUTF8"]
        if args.tls and not tls:
            caps.append("STARTTLS")
        if args.auth:
            caps.append("AUTH PLAIN")
        for c in caps[:-1]:
            await send("250-" + c)
        await send("250 " + caps[-1])

    await send("220 receiver.test ESMTP")
    while True:
        line = await reader.readline()
        if not line:
            return
        cmd = line.decode("utf-8", "replace").rstrip("\r\n")
        verb = cmd.split(" ")[0].upper()
        if verb in ("EHLO", "HELO"):
            await hello()
        elif verb == "STARTTLS" and args.tls and not tls:
            await send("220 go ahead")
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(args.tls[0], args.tls[1])
            try:
                await writer.start_tls(ctx)
            except (ssl.SSLError, ConnectionError) as e:
                emit(event="tls_failed", error=str(e))
                return
            tls = True
        elif verb == "AUTH" and args.auth:
            parts = cmd.split(" ")
            token = parts[2] if len(parts) > 2 else ""
            try:
                _, user, password = base64.b64decode(token).decode().split("\0")
            except Exception:
                await send("501 5.5.2 bad AUTH")
                continue
            if f"{user}:{password}" == args.auth:
                authed = user
                await send("235 2.7.0 ok")
            else:
                await send("535 5.7.8 bad credentials")
        elif verb == "MAIL":
            if args.auth and not authed:
                await send("530 5.7.0 authentication required")
                continue
            mail_from, rcpts = path(cmd[10:]), []
            await send("250 2.1.0 ok")
        elif verb == "RCPT":
            addr = path(cmd[8:])
            action = plan[0] if plan else "ok"
            if action == "550":
                await send("550 5.7.1 relaying denied")
            elif addr.lower() in rejected:
                emit(event="rejected", rcpt=addr)
                await send("550 5.1.1 no such user here")
            else:
                rcpts.append(addr)
                await send("250 2.1.5 ok")
        elif verb == "DATA":
            action = plan.pop(0) if plan else "ok"
            if action == "550" or not rcpts:
                if action == "550":
                    emit(event="rejected", rcpt="*")
                await send("554 5.5.1 no valid recipients")
                continue
            await send("354 end with <CRLF>.<CRLF>")
            data = bytearray()
            while True:
                chunk = await reader.readline()
                if not chunk:
                    return
                if action == "drop" and len(data) > 20:
                    emit(event="dropped")
                    writer.close()
                    return
                if chunk == b".\r\n":
                    break
                data += chunk[1:] if chunk.startswith(b"..") else chunk
            if args.hold:
                await asyncio.sleep(args.hold)
            longest = max((len(l.rstrip(b"\r")) for l in bytes(data).split(b"\n")), default=0)
            if args.max_line and longest > args.max_line:
                emit(event="rejected", rcpt="*", longest=longest)
                await send("550 5.5.2 message has a line too long")
            elif action == "451":
                emit(event="deferred")
                await send("451 4.3.0 try again later")
            else:
                emit(event="message", mail_from=mail_from, rcpts=rcpts, tls=tls, auth=authed,
                     data=base64.b64encode(bytes(data)).decode())
                await send("250 2.0.0 queued")
            rcpts = []
        elif verb == "RSET":
            rcpts = []
            await send("250 ok")
        elif verb == "QUIT":
            await send("221 bye")
            writer.close()
            return
        else:
            await send("502 5.5.1 unknown command")


async def main():
    server = await asyncio.start_server(session, "127.0.0.1", 0)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


try:
    asyncio.run(main())
except KeyboardInterrupt:
    sys.exit(0)
