import socket

for host, port in (("1.1.1.1", 80), ("8.8.8.8", 53), ("151.101.0.223", 443)):
    try:
        socket.create_connection((host, port), timeout=2).close()
        print("ESCAPED tcp", host)
    except OSError as exc:
        print("blocked", host, exc)
