/*
 * The fork server zygote's native half, loaded into the zygote (_zygote.py) with ctypes: the
 * namespace init of every run, and the loop that hands requests to warm chains.
 *
 * The namespace init. sandbox-init is pid 1 of one fork-server run's pid namespace, started
 * by spawn_init().
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
 *
 * The serve loop (zygote_serve, below the init) is C for the same reason the init is: every
 * run is a fork of the zygote while other warm chains still share its pages, so each page
 * the zygote writes between two forks is copied. Run in Python, the loop wrote 100-140 pages
 * a run (object allocations and reference counts) and ran the interpreter for each request;
 * this loop writes ~14. A trivial run got 6-10% cheaper (docs/decisions.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
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
 * thread calls the functions below; a new run process forgets them (forget_inits). */
static struct {
    int pid;
    char *stack;
} inits[MAX_INITS];

/* Start an init in the caller's pid_for_children namespace. Returns its pid, or -1 with errno set. */
static int spawn_init(int live_fd) {
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
static int init_reaped(int pid) {
    for (int slot = 0; slot < MAX_INITS; slot++)
        if (inits[slot].stack != NULL && inits[slot].pid == pid) {
            munmap(inits[slot].stack, STACK_SIZE);
            inits[slot].stack = NULL;
            inits[slot].pid = 0;
            return 0;
        }
    return -1;
}

/* A new run process R: unmap the copies of the inits' stacks and forget their host pids. */
static void forget_inits(void) {
    for (int slot = 0; slot < MAX_INITS; slot++)
        if (inits[slot].stack != NULL) {
            munmap(inits[slot].stack, STACK_SIZE);
            inits[slot].stack = NULL;
            inits[slot].pid = 0;
        }
}

/* ---------------------------------------------------------------------------------------
 * The serve loop. Protocol on the host's socket (SOCK_SEQPACKET), after _zygote.py's set-up:
 * this loop answers "ready" once `warm` chains exist, then each message is a request (a
 * header for R, fds [stdin, stdout, stderr, payload, status, ...]) handed unchanged to one
 * warm chain's R, with no answer; the status fd (index 4) is kept until R exits, then gets
 * one line: {"exit_code": N} or {"signal": N}; or {"error": "..."} if no chain could take
 * the request. A session zygote (every request a session, see _session_runtime.py) first
 * writes {"pid": R, "init": I} there, and keeps R's init alive after R exits: the session's
 * forks live in its namespace, and the host kills it.
 * ------------------------------------------------------------------------------------- */

#define MAX_RUNS 1024
/* ended_session_inits holds inits that are still alive, so never more than MAX_INITS of them. */
_Static_assert(MAX_INITS <= MAX_RUNS, "an ended session's init must fit in ended_session_inits");
#define MAX_REQUEST_FDS 16
#define REQUEST_BYTES (1 << 16)
#define STATUS_FD 4

/* One run process R not yet reaped: an idle chain (ctrl >= 0) or running a request (status >= 0). */
struct run {
    int pid, init, ctrl, status, session;
};

static struct {
    int sock, own_pidns, warm, sessions, live_r, live_w, signals;
    sigset_t mask; /* the caller's signal mask, restored in each R */
    void (*before_fork)(void), (*after_fork_parent)(void), (*after_fork_child)(void);
    struct run runs[MAX_RUNS]; /* in creation order: the oldest idle chain is taken first */
    int nruns;
    int ended_session_inits[MAX_RUNS]; /* inits of ended sessions, for the host to kill */
    int nended;
    char error[512];
} z;

static char request[REQUEST_BYTES];

enum { IN_ZYGOTE = 1, IN_R = 0 };

static int fail(const char *what) {
    snprintf(z.error, sizeof z.error, "%s: %s", what, strerror(errno));
    return -1;
}

/* Why zygote_serve returned ZYGOTE_FAILED (read in the zygote only). */
const char *zygote_error(void) { return z.error; }

/* How many processes this copy of the loop still holds a pid of, in any slot of its tables
 * (tests: 0 in every R). */
int zygote_known_processes(void) {
    int known = 0;
    for (int i = 0; i < MAX_RUNS; i++)
        known += (z.runs[i].pid != 0) + (z.runs[i].init != 0) + (z.ended_session_inits[i] != 0);
    for (int slot = 0; slot < MAX_INITS; slot++)
        known += inits[slot].stack != NULL || inits[slot].pid != 0;
    return known;
}

static int idle_chains(void) {
    int idle = 0;
    for (int i = 0; i < z.nruns; i++)
        idle += z.runs[i].ctrl >= 0;
    return idle;
}

/* Every slot past the last entry stays zero: a run process clears only the entries in use. */
static void drop_run(int i) {
    memmove(&z.runs[i], &z.runs[i + 1], (size_t)(z.nruns - i - 1) * sizeof z.runs[0]);
    z.nruns--;
    memset(&z.runs[z.nruns], 0, sizeof z.runs[0]);
}

/* Clear the stack below the caller's frame: R's program can read its own memory, and the
 * loop's frames held other chains' host pids. explicit_bzero, which the compiler may not
 * drop as a dead store (a memset of a dying local is dropped). */
static void __attribute__((noinline)) scrub_stack(void) {
    char scratch[8 * 1024];
    explicit_bzero(scratch, sizeof scratch);
}

/* In a new R: everything the zygote knew goes (host pids of other chains and sessions), the
 * zygote's fds go (R closes the rest itself), and signals are as the caller had them. */
static void become_run_process(void) {
    for (int i = 0; i < z.nruns; i++)
        if (z.runs[i].ctrl >= 0)
            close(z.runs[i].ctrl);
    close(z.live_w);
    close(z.signals);
    forget_inits();
    sigprocmask(SIG_SETMASK, &z.mask, NULL);
    /* Only the entries in use: each page written here is a copy-on-write fault in every run. */
    memset(z.runs, 0, (size_t)z.nruns * sizeof z.runs[0]);
    memset(z.ended_session_inits, 0, (size_t)z.nended * sizeof z.ended_session_inits[0]);
    z.nruns = z.nended = 0;
}

/* A new pid namespace (the init as pid 1) with R forked into it. IN_ZYGOTE with the chain
 * recorded, IN_R in the new process (*ctrl: its end of the chain's socket), -1 on failure. */
static int make_chain(int *ctrl) {
    if (z.nruns == MAX_RUNS) {
        errno = EAGAIN;
        return fail("making a chain (too many runs)");
    }
    /* unshare(CLONE_NEWPID) only redirects this process's future children, and only once:
     * setns back to our own namespace first re-arms it. */
    if (setns(z.own_pidns, CLONE_NEWPID) != 0)
        return fail("setns(own pid namespace)");
    if (unshare(CLONE_NEWPID) != 0)
        return fail("unshare(pid)");
    int init = spawn_init(z.live_r);
    if (init < 0)
        return fail("starting the namespace init");
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
        kill(init, SIGKILL); /* reaped as an unknown pid: its stack goes then */
        return fail("socketpair");
    }
    z.before_fork();
    int pid = fork();
    if (pid == 0) {
        z.after_fork_child();
        close(pair[0]);
        *ctrl = pair[1];
        become_run_process();
        return IN_R;
    }
    int saved = errno;
    z.after_fork_parent();
    close(pair[1]);
    if (pid < 0) {
        errno = saved;
        kill(init, SIGKILL);
        close(pair[0]);
        return fail("fork");
    }
    z.runs[z.nruns++] = (struct run){.pid = pid, .init = init, .ctrl = pair[0], .status = -1};
    return IN_ZYGOTE;
}

static void report(int fd, const char *line) {
    ssize_t ignored = write(fd, line, strlen(line)); /* the host may have given up on this run */
    (void)ignored;
}

/* Collect exited children: a run process's status goes to its request; its init is killed with it. */
static void reap(void) {
    int wstatus;
    for (;;) {
        int pid = waitpid(-1, &wstatus, WNOHANG);
        if (pid <= 0)
            return;
        int i = 0;
        while (i < z.nruns && z.runs[i].pid != pid)
            i++;
        if (i == z.nruns) { /* an init */
            init_reaped(pid);
            for (int j = 0; j < z.nruns; j++)
                if (z.runs[j].init == pid)
                    z.runs[j].init = 0; /* reaped before its R (killed from outside): its pid may be reused */
            for (int j = 0; j < z.nended; j++)
                if (z.ended_session_inits[j] == pid) {
                    z.ended_session_inits[j] = z.ended_session_inits[--z.nended];
                    z.ended_session_inits[z.nended] = 0;
                }
            continue;
        }
        struct run run = z.runs[i];
        drop_run(i);
        if (run.init > 0 && run.session)
            z.ended_session_inits[z.nended++] = run.init;
        else if (run.init > 0)
            kill(run.init, SIGKILL); /* our unreaped child: its pid cannot have been reused */
        if (run.ctrl >= 0)
            close(run.ctrl); /* an idle chain died */
        if (run.status < 0)
            continue;
        char line[64];
        if (WIFSIGNALED(wstatus))
            snprintf(line, sizeof line, "{\"signal\": %d}\n", WTERMSIG(wstatus));
        else
            snprintf(line, sizeof line, "{\"exit_code\": %d}\n", WEXITSTATUS(wstatus));
        report(run.status, line);
        close(run.status);
    }
}

static void close_all(const int *fds, int nfds) {
    for (int k = 0; k < nfds; k++)
        close(fds[k]);
}

/* Hand one request to the oldest warm chain (a fresh one if none is ready). */
static int start(size_t length, int *fds, int nfds, int *ctrl) {
    if (nfds <= STATUS_FD) { /* not a request of ours: nowhere to report */
        close_all(fds, nfds);
        return IN_ZYGOTE;
    }
    int i = 0;
    while (i < z.nruns && z.runs[i].ctrl < 0)
        i++;
    if (i == z.nruns) {
        int made = make_chain(ctrl);
        if (made == IN_R)
            return IN_R;
        if (made < 0) {
            char line[sizeof z.error + 64];
            snprintf(line, sizeof line, "{\"error\": \"fork server could not start the run: %s\"}\n", z.error);
            report(fds[STATUS_FD], line);
            close_all(fds, nfds);
            return IN_ZYGOTE;
        }
        i = z.nruns - 1;
    }
    struct run *run = &z.runs[i];
    struct iovec iov = {.iov_base = request, .iov_len = length};
    union {
        char buf[CMSG_SPACE(MAX_REQUEST_FDS * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(cmsg), fds, nfds * sizeof(int));
    int sent = sendmsg(run->ctrl, &msg, MSG_NOSIGNAL) >= 0;
    int saved = errno;
    close(run->ctrl);
    run->ctrl = -1;
    if (!sent) {
        char line[128];
        snprintf(line, sizeof line, "{\"error\": \"fork server could not start the run: %s\"}\n", strerror(saved));
        report(fds[STATUS_FD], line);
        kill(run->pid, SIGKILL); /* reaped as an idle chain that died */
        close_all(fds, nfds);
        return IN_ZYGOTE;
    }
    if (z.sessions && run->init <= 0) { /* its init was killed from outside: no namespace to hold */
        report(fds[STATUS_FD], "{\"error\": \"fork server could not start the session: its namespace init is gone\"}\n");
        kill(run->pid, SIGKILL);
        close_all(fds, nfds);
        return IN_ZYGOTE;
    }
    run->status = fds[STATUS_FD];
    if (z.sessions) {
        char line[64];
        run->session = 1;
        snprintf(line, sizeof line, "{\"pid\": %d, \"init\": %d}\n", run->pid, run->init);
        report(run->status, line);
    }
    for (int k = 0; k < nfds; k++)
        if (k != STATUS_FD)
            close(fds[k]);
    return IN_ZYGOTE;
}

/* One request from the host: its length (0 once the host closed the socket), fds in `fds`. */
static ssize_t receive(int *fds, int *nfds) {
    struct iovec iov = {.iov_base = request, .iov_len = sizeof request};
    union {
        char buf[CMSG_SPACE(MAX_REQUEST_FDS * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    ssize_t length;
    do
        length = recvmsg(z.sock, &msg, MSG_CMSG_CLOEXEC);
    while (length < 0 && errno == EINTR);
    *nfds = 0;
    if (length < 0)
        return 0; /* the socket failed: as good as closed */
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int k = 0; k < count && *nfds < MAX_REQUEST_FDS; k++)
                memcpy(&fds[(*nfds)++], CMSG_DATA(c) + k * sizeof(int), sizeof(int));
        }
    if (length > 0 && (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) { /* more than a request holds: skipped */
        if (*nfds > STATUS_FD)
            report(fds[STATUS_FD], "{\"error\": \"fork server could not start the run: the request is too large\"}\n");
        memset(request, 0, sizeof request);
        close_all(fds, *nfds);
        return -1;
    }
    if (length == 0) { /* the host closed the socket */
        close_all(fds, *nfds);
        return 0;
    }
    return length;
}

/* Kill every namespace (idle or running) and wait until no child is left. */
static void stop(void) {
    for (int i = 0; i < z.nruns; i++) {
        if (z.runs[i].ctrl >= 0)
            close(z.runs[i].ctrl);
        if (z.runs[i].status >= 0)
            close(z.runs[i].status);
        if (z.runs[i].init > 0)
            kill(z.runs[i].init, SIGKILL);
    }
    for (int j = 0; j < z.nended; j++)
        kill(z.ended_session_inits[j], SIGKILL);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {
    }
}

enum { REQUEST_WAITING = 1, CHILD_EXITED = 2 };

/* What is waiting on the host's socket and the SIGCHLD signalfd (after up to `timeout_ms`; -1 on EINTR). */
static int waiting(int timeout_ms) {
    struct pollfd watch[2] = {{.fd = z.sock, .events = POLLIN}, {.fd = z.signals, .events = POLLIN}};
    if (poll(watch, 2, timeout_ms) < 0)
        return -1;
    return (watch[0].revents ? REQUEST_WAITING : 0) | (watch[1].revents ? CHILD_EXITED : 0);
}

/* Serve the host's requests until it closes `sock`. Called once, through ctypes.PyDLL (the
 * GIL held: this is the zygote's one thread), with Python's fork hooks, so that each R is
 * a fork exactly as os.fork() makes one. Returns, in each new run process R, its control
 * socket's fd (R then runs _zygote.run_process); in the zygote, ZYGOTE_DONE once the host
 * closed the socket and every chain is gone, or ZYGOTE_FAILED if the first chains could not
 * be made (zygote_error() says why; the host has been sent nothing). */
#define ZYGOTE_DONE (-1)
#define ZYGOTE_FAILED (-2)

static int __attribute__((noinline)) serve(void) {
    int ctrl = -1, fds[MAX_REQUEST_FDS], nfds;
    /* Inits watch the read end: EOF (this process gone) makes them exit, killing their namespace. */
    int live[2];
    if (pipe2(live, O_CLOEXEC) != 0)
        return fail("pipe"), ZYGOTE_FAILED;
    z.live_r = live[0], z.live_w = live[1];
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &z.mask);
    z.signals = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    if (z.signals < 0)
        return fail("signalfd"), ZYGOTE_FAILED;
    for (int k = 0; k < z.warm; k++) {
        int made = make_chain(&ctrl);
        if (made == IN_R)
            return ctrl;
        if (made < 0) {
            stop();
            return ZYGOTE_FAILED;
        }
    }
    if (send(z.sock, "ready", 5, MSG_NOSIGNAL) != 5) {
        stop();
        return ZYGOTE_DONE;
    }
    struct signalfd_siginfo info;
    for (;;) {
        reap();
        while (idle_chains() < z.warm && waiting(0) == 0) {
            int made = make_chain(&ctrl);
            if (made == IN_R)
                return ctrl;
            if (made < 0)
                break; /* out of pids or memory: the next request makes its own chain, or reports why not */
        }
        int ready = waiting(-1);
        if (ready < 0)
            continue; /* EINTR */
        if (ready & CHILD_EXITED)
            while (read(z.signals, &info, sizeof info) > 0) {
            }
        if (!(ready & REQUEST_WAITING))
            continue;
        ssize_t length = receive(fds, &nfds);
        if (length == 0) {
            stop(); /* the host closed the socket */
            return ZYGOTE_DONE;
        }
        if (length > 0 && start((size_t)length, fds, nfds, &ctrl) == IN_R)
            return ctrl;
        memset(request, 0, (size_t)(length > 0 ? length : 0)); /* no copy of it in the next chain's memory */
    }
}

int zygote_serve(int sock, int own_pidns, int warm, int sessions, void (*before_fork)(void),
                 void (*after_fork_parent)(void), void (*after_fork_child)(void)) {
    z.sock = sock, z.own_pidns = own_pidns, z.warm = warm, z.sessions = sessions;
    z.before_fork = before_fork, z.after_fork_parent = after_fork_parent, z.after_fork_child = after_fork_child;
    int ctrl = serve();
    if (ctrl >= 0)
        scrub_stack(); /* in R: every frame the loop used lies below this one */
    return ctrl;
}
