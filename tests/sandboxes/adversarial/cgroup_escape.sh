ls /sys/fs/cgroup 2>&1 | head -3
if (echo $$ > /sys/fs/cgroup/memory/cgroup.procs) 2>/dev/null; then echo ESCAPED cgroup move; else echo blocked cgroup; fi
cat /proc/self/cgroup
