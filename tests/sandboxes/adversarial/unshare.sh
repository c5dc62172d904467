if unshare -r id 2>/dev/null; then echo ESCAPED unshare -r; else echo blocked unshare; fi
if unshare -rn true 2>/dev/null; then echo ESCAPED unshare -rn; else echo blocked unshare -n; fi
