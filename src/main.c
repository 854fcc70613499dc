/* main.c — thin wrapper: MPI up, hetfl_run(), MPI down. */
#include "hetfl.h"

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rc = hetfl_run(argc, argv, MPI_COMM_WORLD, stdout);
    MPI_Finalize();
    return rc;
}
