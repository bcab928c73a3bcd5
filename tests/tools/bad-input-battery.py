#!/usr/bin/env python3
"""A battery of bad input against a running `keelson up`, printing the server's RSS after each
pass: what showed whether anything leaks per rejected request or per hostile connection.

    keelson up --data-dir D --bind-address 127.0.0.1 --secure-port 16443 &
    python3 tests/tools/bad-input-battery.py D 16443 $(pgrep -f "keelson up --data-dir D") 12 [--keep]

Each pass opens 50 connections that declare a 10 GiB body and send 10 bytes and 200 that
send nothing, sends 20 rounds of 18 malformed or refused requests (as the admin), then
closes the held connections (with --keep, it never closes them, as a hostile client would
not). Prints the server's RSS and open file descriptors after each pass.
"""
import ssl, http.client, json, sys, os, time, socket, threading
data = sys.argv[1]; port = int(sys.argv[2]); pid = int(sys.argv[3]); passes = int(sys.argv[4])
keep = "--keep" in sys.argv[5:]
kept = []
pki = os.path.join(data, "apiserver-pki")
ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca/ca.crt"))
ctx.load_cert_chain(os.path.join(pki, "admin/tls.crt"), os.path.join(pki, "admin/tls.key"))
def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"): return int(line.split()[1]) // 1024
def req(method, path, body=b"", ctype="application/json", headers=None):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    h = {"Content-Type": ctype}; h.update(headers or {})
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse(); r.read(); return r.status
    except Exception as e:
        return str(e)[:40]
    finally:
        c.close()
cm = "/api/v1/namespaces/default/configmaps"
bad = [
  ("POST", cm, b'{"metadata": ', "application/json"),
  ("POST", cm, b"metadata: [unclosed\n", "application/yaml"),
  ("POST", cm, b"k8s\x00\xff\xff", "application/vnd.kubernetes.protobuf"),
  ("POST", cm, b'{"metadata":{"name":"huge"},"data":{"a":"' + b"x"*(3*1024*1024+1) + b'"}}', "application/json"),
  ("POST", cm, ('{"metadata":{"name":"deep"},"data":' + "["*100000 + "]"*100000 + "}").encode(), "application/json"),
  ("POST", cm, b'{"metadata":{"name":"Bad_Name"}}', "application/json"),
  ("POST", cm, b'{"metadata":{"name":"ok","labels":{"bad key":"v"}}}', "application/json"),
  ("GET", cm + "?labelSelector=a%20in%20(b", b"", ""),
  ("GET", cm + "?fieldSelector=spec.x%3Dy", b"", ""),
  ("GET", cm + "?watch=1&resourceVersion=abc", b"", ""),
  ("PATCH", cm + "/nope", b"[{]", "application/json-patch+json"),
  ("PATCH", cm + "/nope", b"{}", "text/weird"),
  ("POST", "/api/v1/namespaces/default/serviceaccounts/default/token", b'{"spec":1}', "application/json"),
  ("POST", "/api/v1/namespaces/default/serviceaccounts/default/token", b'{"spec":{"expirationSeconds":9223372036854775807}}', "application/json"),
  ("GET", "/api/v1/namespaces/default/pods/x/log", b"", ""),
  ("DELETE", cm + "/nope", b'{"propagationPolicy":"Sideways"}', "application/json"),
  ("GET", "/apis/nope/v1/things", b"", ""),
  ("POST", "/api/v1/namespaces/nope/configmaps", b'{"metadata":{"name":"a"}}', "application/json"),
]
def hanging():
    s = socket.create_connection(("127.0.0.1", port))
    t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    t.sendall(b"POST " + cm.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10737418240\r\n\r\n{\"metadata")
    return t
def silent():
    return socket.create_connection(("127.0.0.1", port))
print("start rss", rss(), "MB", flush=True)
for p in range(passes):
    held = [hanging() for _ in range(50)] + [silent() for _ in range(200)]
    for i in range(20):
        for m, path, body, ct in bad:
            req(m, path, body, ct)
    if keep:
        kept.extend(held)
    else:
        for h in held: h.close()
    print("pass", p+1, "rss", rss(), "MB, open fds", len(os.listdir(f"/proc/{pid}/fd")), flush=True)
