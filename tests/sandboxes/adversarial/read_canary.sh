cat "@@CANARY_PATH@@" 2>&1
find /etc /usr/local /work /tmp /var /srv /home -name "@@CANARY_NAME@@" 2>/dev/null
echo done
