sleep 1000 &
kill -9 -1
echo survived
