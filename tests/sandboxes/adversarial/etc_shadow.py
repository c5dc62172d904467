for path in ("/etc/shadow", "/etc/gshadow", "/root/.bash_history", "/etc/ssh/ssh_host_rsa_key"):
    try:
        print(path, open(path).read())
    except OSError as exc:
        print("blocked", path, exc)
