#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>
int main(void) {
    pid_t child = fork();
    if (child == 0) { sleep(5); _exit(0); }
    if (ptrace(PTRACE_ATTACH, child, 0, 0) == 0) puts("ESCAPED ptrace child"); else printf("blocked %s\n", strerror(errno));
    if (ptrace(PTRACE_ATTACH, getppid(), 0, 0) == 0) puts("ESCAPED ptrace parent"); else printf("blocked %s\n", strerror(errno));
    return 0;
}
