/*
 * sandbox-reaper: pid 1 of a session fork's pid namespace.
 *
 * Why it exists: a session fork (see _session_runtime.py) leaves every namespace of its
 * parent behind; the first process in its new pid namespace becomes that namespace's init.
 * That must not be the session's interpreter (the kernel drops signals a pid-1 process
 * sends itself without a handler, and orphans would pile up as zombies counting against
 * the process limit), so the fork child spawns this program first (posix_spawn, so the
 * interpreter's memory is never copied for it) and forks the interpreter after it.
 *
 * It reaps and does nothing else. It holds no fds and no capabilities (exec cleared
 * them; the host checks). The host kills it when the fork and every fork of the fork are
 * closed; the kernel then kills whatever is left in the namespace.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

int main(void) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL); /* SIGCHLD is taken with sigwaitinfo below */
    prctl(PR_SET_NAME, "sandbox-reaper", 0, 0, 0);
    syscall(SYS_close_range, 0U, ~0U, 0);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
        sigwaitinfo(&chld, NULL);
    }
}
