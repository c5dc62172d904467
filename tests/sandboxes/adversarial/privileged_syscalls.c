/* Each call uses arguments that are harmless even if it succeeds, so a broken sandbox cannot hurt the host. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
static void check(const char *name, long rc) {
    if (rc == 0 || (rc < 0 && errno != EPERM && errno != ENOSYS && errno != EACCES)) printf("ESCAPED %s rc=%ld %s\n", name, rc, strerror(errno));
    else printf("blocked %s %s\n", name, strerror(errno));
}
int main(void) {
    check("reboot", syscall(SYS_reboot, 0, 0, 0, NULL));                 /* bad magic: EINVAL if privileged */
    check("settimeofday", syscall(SYS_settimeofday, NULL, NULL));        /* no-op if privileged */
    check("swapoff", syscall(SYS_swapoff, "/nonexistent-swap"));
    check("delete_module", syscall(SYS_delete_module, "no_such_module_x", 0));
    check("init_module", syscall(SYS_init_module, NULL, 0, ""));
    check("chroot", syscall(SYS_chroot, "/"));
    check("pivot_root", syscall(SYS_pivot_root, "/nonexistent", "/nonexistent"));
    check("setns", syscall(SYS_setns, 0, 0));
    check("sethostname", syscall(SYS_sethostname, "sandbox", 7));
    return 0;
}
