#include <stdio.h>
int main(void) {
    char buf[256] = {0};
    FILE *f = fopen("@@CANARY_PATH@@", "r");
    if (f && fgets(buf, sizeof buf, f)) printf("ESCAPED %s\n", buf); else perror("blocked");
    return 0;
}
