/* main.c — thin wrapper: MPI up, hetfl_run(), MPI down. */
#include "hetfl.h"
#include "nn.h"

int main(int argc, char **argv)
{
    hf_blas_init();  /* before any BLAS call: pick the right OpenBLAS kernels (nn.h) */
    MPI_Init(&argc, &argv);
    int rc = hetfl_run(argc, argv, MPI_COMM_WORLD, stdout);
    MPI_Finalize();
    return rc;
}
