#include <signal.h>
int main(void) { signal(SIGTERM, SIG_IGN); signal(SIGXCPU, SIG_IGN); volatile unsigned long i = 0; for (;;) i++; }
