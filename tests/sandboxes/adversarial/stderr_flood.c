#include <stdio.h>
int main(void) { for (;;) fputs("flooding stderr flooding stderr flooding stderr\n", stderr); }
