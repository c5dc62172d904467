import socket

for name in ("example.com", "pypi.org", "deb.debian.org"):
    try:
        print("ESCAPED dns", name, socket.getaddrinfo(name, 80)[0][4])
    except OSError as exc:
        print("blocked", name, exc)
