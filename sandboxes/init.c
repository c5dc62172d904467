/*
 * sandbox-init: pid 1 of one fork-server run's pid namespace.
 *
 * Why a separate C program: the run's own process must not be pid 1 (the kernel drops
 * signals a pid-1 process sends itself, so `os.kill(os.getpid(), SIGKILL)` or abort()
 * would not end it), and a forked Python init costs about a third of a run's CPU time
 * (page-table copies, copy-on-write faults, teardown). This one is spawned with vfork +
 * exec, reaps orphans, and does nothing else. The fork server kills it after the run's
 * process exits; the kernel then kills everything left in the namespace.
 *
 * fd 0 is the read end of a pipe whose write end only the fork server holds: EOF means
 * the fork server is gone, and init exits (taking the namespace with it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    syscall(SYS_close_range, 1U, ~0U, 0U);
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        return 1;
    struct pollfd watch[2] = {{.fd = 0, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
        if (poll(watch, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (watch[0].revents)
            return 0; /* the fork server closed its end (or died) */
        if (watch[1].revents) {
            struct signalfd_siginfo info;
            while (read(sfd, &info, sizeof info) > 0) {
            }
        }
    }
}
