#!/usr/bin/python3
"""A real SMTP server for the mail client tests, on 127.0.0.1 and a port the OS picks.

Usage: smtp_server.py MODE DIR [PASSWORD]
  mailbox  aiosmtpd; each accepted message is parsed with Python's email package and written
           to DIR/<n>.json. Recipients starting with "reject" get 550, and a message for a
           recipient starting with "tempfail" gets 451 after DATA.
  auth     as mailbox, but AUTH is required: user "mailer" with PASSWORD passes, anything
           else gets 535. DIR/auth.log records each attempt's user and outcome (never the
           password).
  drop     answers the greeting and EHLO, then closes the connection at MAIL FROM.
  greet421 answers "421" to every connection and closes it.
  silent   accepts connections and never says anything.
  starttls as auth, but STARTTLS is required before MAIL and AUTH (certificate below).
  smtps    as mailbox, but TLS from the first byte.
For starttls and smtps a throw-away CA signs a certificate for 127.0.0.1 (openssl CLI); its
certificate is DIR/ca.pem, for the client's CA file setting. Messages record "tls": true|false.
Prints "READY <port>" once listening, or "MISSING-AIOSMTPD" and exits 3. Runs under Debian's
/usr/bin/python3, where the python3-aiosmtpd package installs.
"""
import asyncio
import email
import email.policy
import json
import os
import socket
import ssl
import subprocess
import sys

mode, out_dir = sys.argv[1], sys.argv[2]
password = sys.argv[3] if len(sys.argv) > 3 else ""
counter = 0


def record(envelope, tls):
    global counter
    raw = envelope.original_content or envelope.content
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        parts.append({
            "content_type": part.get_content_type(),
            "charset": part.get_content_charset() or "",
            "transfer_encoding": part.get("Content-Transfer-Encoding", ""),
            "content": part.get_content(),
        })
    doc = {
        "mail_from": envelope.mail_from,
        "rcpt_tos": list(envelope.rcpt_tos),
        "raw": raw.decode("utf-8", "replace"),
        "headers": [[k, str(v)] for k, v in msg.items()],
        "content_type": msg.get_content_type(),
        "parts": parts,
        "defects": [type(d).__name__ for d in msg.defects],
        "tls": tls,
    }
    counter += 1
    path = os.path.join(out_dir, "%04d.json" % counter)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(doc, f)
    os.rename(path + ".tmp", path)


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("reject"):
            return "550 5.1.1 <%s>: recipient rejected" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(r.lower().startswith("tempfail") for r in envelope.rcpt_tos):
            return "451 4.3.0 temporary failure, try again later"
        record(envelope, server.transport.get_extra_info("ssl_object") is not None)
        return "250 Message accepted"


def authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult, LoginPassword
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == b"mailer"
          and auth_data.password == password.encode())
    user = auth_data.login.decode("utf-8", "replace") if isinstance(auth_data, LoginPassword) else "?"
    with open(os.path.join(out_dir, "auth.log"), "a", encoding="utf-8") as f:
        f.write("%s %s %s\n" % (mechanism, user, "ok" if ok else "rejected"))
    return AuthResult(success=ok, handled=False)


def make_tls_context():
    """A CA and a server certificate for 127.0.0.1, valid for a day, made with the openssl CLI."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=out_dir, check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
        "-subj", "/CN=vmray-connector test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(out_dir, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "server.ext")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(os.path.join(out_dir, "server.pem"), os.path.join(out_dir, "server.key"))
    return ctx


async def raw_fault(reader, writer):
    try:
        if mode == "silent":
            await reader.read()  # accept, never greet: the client must time out
            return
        if mode == "greet421":
            writer.write(b"421 4.3.2 Service not available, closing transmission channel\r\n")
            await writer.drain()
            return
        writer.write(b"220 fault.test ESMTP\r\n")
        await writer.drain()
        while True:
            line = await reader.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250 fault.test\r\n")
                await writer.drain()
            else:
                return  # drop the connection mid-transaction
    finally:
        writer.close()


async def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    if mode in ("mailbox", "auth", "starttls", "smtps"):
        try:
            from aiosmtpd.smtp import SMTP
        except ImportError:
            print("MISSING-AIOSMTPD", flush=True)
            sys.exit(3)
        kwargs = {}
        server_ssl = None
        if mode == "auth":
            kwargs = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False)
        elif mode == "starttls":
            kwargs = dict(authenticator=authenticator, auth_required=True, auth_require_tls=True,
                          tls_context=make_tls_context(), require_starttls=True)
        elif mode == "smtps":
            server_ssl = make_tls_context()
        server = await loop.create_server(
            lambda: SMTP(Handler(), hostname="mail.test", loop=loop, **kwargs), sock=sock,
            ssl=server_ssl)
    elif mode in ("drop", "greet421", "silent"):
        server = await asyncio.start_server(raw_fault, sock=sock)
    else:
        print("unknown mode " + mode, file=sys.stderr)
        sys.exit(2)
    print("READY %d" % sock.getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
