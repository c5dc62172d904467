nohup sleep 1000 >/dev/null 2>&1 &
setsid sleep 1001 </dev/null >/dev/null 2>&1 &
disown -a
echo launched
