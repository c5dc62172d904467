yes | tr -d '\n'
