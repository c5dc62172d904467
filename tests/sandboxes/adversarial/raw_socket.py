import socket

for family, kind, proto in ((socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
                            (socket.AF_PACKET, socket.SOCK_RAW, 0x0300),
                            (socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)):
    try:
        socket.socket(family, kind, proto).close()
        print("ESCAPED raw socket", family)
    except OSError as exc:
        print("blocked", family, exc)
