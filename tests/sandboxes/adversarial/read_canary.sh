cat "@@CANARY_PATH@@" 2>&1
find / -name "@@CANARY_NAME@@" 2>/dev/null
echo done
