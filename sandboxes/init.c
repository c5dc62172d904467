/*
 * sandbox-init: pid 1 of one fork-server run's pid namespace, started by the zygote
 * through sandbox_spawn_init() (loaded with ctypes).
 *
 * Why it exists: the run's own process must not be pid 1 (the kernel drops signals a
 * pid-1 process sends itself, so `os.kill(os.getpid(), SIGKILL)` or abort() would not end
 * it), and orphans of the run must be reaped (a zombie still counts against the process
 * limit). It reaps and does nothing else. The zygote kills it after the run's process
 * exits; the kernel then kills everything left in the namespace.
 *
 * Why a clone(CLONE_VM) child and not a program: an exec costs ~0.4 ms of CPU per run on
 * a small VM, a forked Python init ~1.5 ms; this costs ~0.05 ms. Sharing the zygote's
 * memory means the child must never touch the zygote's state: it runs on its own stack,
 * makes raw system calls only (libc wrappers would write errno, which lives in the
 * zygote's thread-local storage), resets every inherited signal handler before it
 * unblocks anything, and closes every fd but its liveness pipe.
 *
 * The liveness pipe's write end is held only by the zygote: EOF means the zygote is gone,
 * and init exits, taking the namespace with it (PR_SET_PDEATHSIG covers the same case
 * once armed; the pipe covers the instant before).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)
static long raw(long n, long a, long b, long c, long d, long e) {
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return ret;
}
#elif defined(__aarch64__)
static long raw(long n, long a, long b, long c, long d, long e) {
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory", "cc");
    return x0;
}
#else
#error "sandbox-init supports x86_64 and aarch64"
#endif

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#define STACK_SIZE (32 * 1024)
#define MAX_INITS 1024
#define KERNEL_SIGSET 8

struct kernel_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    unsigned long mask;
};

static int init_main(void *arg) {
    long live = (long)arg;
    struct kernel_sigaction dfl = {0};
    for (long sig = 1; sig <= 64; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            raw(SYS_rt_sigaction, sig, (long)&dfl, 0, KERNEL_SIGSET, 0);
    unsigned long chld = 1UL << (SIGCHLD - 1);
    raw(SYS_rt_sigprocmask, SIG_SETMASK, (long)&chld, 0, KERNEL_SIGSET, 0);
    raw(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    raw(SYS_prctl, PR_SET_NAME, (long)"sandbox-init", 0, 0, 0);
    if (live > 0)
        raw(SYS_close_range, 0, live - 1, 0, 0, 0);
    raw(SYS_close_range, live + 1, ~0U, 0, 0, 0);
    long sfd = raw(SYS_signalfd4, -1, (long)&chld, KERNEL_SIGSET, SFD_CLOEXEC | SFD_NONBLOCK, 0);
    if (sfd < 0)
        return 1;
    struct pollfd watch[2] = {{.fd = (int)live, .events = POLLIN}, {.fd = (int)sfd, .events = POLLIN}};
    char info[sizeof(struct signalfd_siginfo)];
    for (;;) {
        while (raw(SYS_wait4, -1, 0, WNOHANG, 0, 0) > 0) {
        }
        if (raw(SYS_ppoll, (long)watch, 2, 0, 0, 0) < 0)
            continue; /* -EINTR */
        if (watch[0].revents)
            return 0; /* the zygote closed its end, or died */
        if (watch[1].revents)
            while (raw(SYS_read, sfd, (long)info, sizeof info, 0, 0) > 0) {
            }
    }
}

/* Stacks of live inits, freed once the zygote has reaped them. Only the zygote's one
 * thread calls the functions below. */
static struct {
    int pid;
    char *stack;
} inits[MAX_INITS];

/* Start an init in the caller's pid_for_children namespace. Returns its pid, or -1 with errno set. */
int sandbox_spawn_init(int live_fd) {
    int slot = 0;
    while (slot < MAX_INITS && inits[slot].stack != NULL)
        slot++;
    if (slot == MAX_INITS) {
        errno = EAGAIN;
        return -1;
    }
    char *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        return -1;
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old); /* the child starts with every signal blocked */
    int pid = clone(init_main, stack + STACK_SIZE, CLONE_VM | SIGCHLD, (void *)(long)live_fd);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        munmap(stack, STACK_SIZE);
        return -1;
    }
    inits[slot].pid = pid;
    inits[slot].stack = stack;
    return pid;
}

/* The zygote reaped init `pid`: its stack can go. Returns 0, or -1 if `pid` is not ours. */
int sandbox_init_reaped(int pid) {
    for (int slot = 0; slot < MAX_INITS; slot++)
        if (inits[slot].stack != NULL && inits[slot].pid == pid) {
            munmap(inits[slot].stack, STACK_SIZE);
            inits[slot].stack = NULL;
            return 0;
        }
    return -1;
}
