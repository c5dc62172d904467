import socket

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.sendto(b"\x00" * 12, ("8.8.8.8", 53))
    print("ESCAPED udp send")
except OSError as exc:
    print("blocked", exc)
