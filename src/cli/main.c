/* main.c — thin wrapper: MPI up, hetfl_run(), MPI down. */
#include "hetfl.h"
#include "checkpoint.h"
#include "nn.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    /* hetfl run: SIGTERM/SIGUSR1/SIGINT handled from the first instant, so one that
     * arrives while the run starts is exit 3, never 143 (signals.c); the other
     * commands keep the default actions (Ctrl-C ends hetfl report at once) */
    if (argc > 1 && !strcmp(argv[1], "run")) hf_signals_install();
    hf_blas_init();  /* before any BLAS call: pick the right OpenBLAS kernels (nn.h) */
    /* hetfl reproduce only starts other hetfl processes and reads their files: no
     * MPI, so that its children do not inherit an MPI singleton's environment */
    if (argc > 1 && !strcmp(argv[1], "reproduce")) return hf_reproduce_cli(argc - 2, argv + 2, stdout);
    MPI_Init(&argc, &argv);
    int rc = hetfl_run(argc, argv, MPI_COMM_WORLD, stdout);
    if (hf_h5out_wedged()) {
        /* HDF5 could not write a file out (disk full): its shutdown, at MPI_Finalize,
         * would crash on the half-closed file.  End here, with the status and the
         * message already printed; mpirun reports the status (h5out.c). */
        fflush(NULL);
        _exit(rc ? rc : 1);
    }
    MPI_Finalize();
    return rc;
}
