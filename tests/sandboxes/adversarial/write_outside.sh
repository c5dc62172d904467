for p in /usr/escape /bin/escape /etc/passwd "@@ESCAPE_DIR@@/escape-sh"; do
  if (echo x > "$p") 2>/dev/null; then echo "ESCAPED wrote $p"; else echo "blocked $p"; fi
done
