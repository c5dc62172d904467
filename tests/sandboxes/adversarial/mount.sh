mkdir -p /work/m
if mount -t tmpfs none /work/m 2>/dev/null; then echo ESCAPED mount; else echo blocked mount; fi
if mount -o remount,rw / 2>/dev/null; then echo ESCAPED remount; else echo blocked remount; fi
