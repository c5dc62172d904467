bomb() { bomb | bomb & }
bomb
sleep 100
