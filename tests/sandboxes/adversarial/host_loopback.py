import socket
try:
    socket.create_connection(("127.0.0.1", @@HOST_PORT@@), timeout=2).close()
    print("ESCAPED loopback")
except OSError as exc:
    print("blocked", exc)
