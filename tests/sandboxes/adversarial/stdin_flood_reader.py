import sys

data = sys.stdin.buffer.read()
print("read", len(data))
