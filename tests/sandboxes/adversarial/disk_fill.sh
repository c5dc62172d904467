dd if=/dev/zero of=/work/big bs=1M count=4096 2>&1 | tail -1
for i in $(seq 1 200); do head -c 1048576 /dev/zero > "/work/f$i" || break; done
echo done
