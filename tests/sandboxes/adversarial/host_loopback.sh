if (exec 3<>/dev/tcp/127.0.0.1/@@HOST_PORT@@) 2>/dev/null; then echo ESCAPED loopback; else echo blocked; fi
