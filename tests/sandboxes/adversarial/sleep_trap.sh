trap '' TERM INT HUP
sleep 1000
