v=$(cat /proc/sys/kernel/printk_ratelimit)
if (echo "$v" > /proc/sys/kernel/printk_ratelimit) 2>/dev/null; then echo ESCAPED proc sys write; else echo blocked; fi
if (exec 3>/proc/sysrq-trigger) 2>/dev/null; then echo ESCAPED sysrq open; else echo blocked sysrq; fi
