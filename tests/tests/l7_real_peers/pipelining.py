"""Three requests in one write on a raw socket, then their three responses."""
import socket
import sys

sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
sock.sendall(b"".join(b"GET /pipe/%d HTTP/1.1\r\nHost: p\r\n\r\n" % i for i in range(3)))
data = b""
while data.count(b"HTTP/1.") < 3 or not data.endswith(b"x" * 64):
    chunk = sock.recv(65536)
    if not chunk:
        break
    data += chunk
sock.close()
print("done", flush=True)
