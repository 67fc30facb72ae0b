/* Reference for scripts/bench: the least a dynamically linked launcher can cost. It does
 * nothing but exec its arguments (glibc, dynamic loader, PIE: as a distribution builds it). */
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 64;
    execv(argv[1], argv + 1);
    return 127;
}
