/*
 * signals.c — SIGTERM / SIGUSR1 / SIGINT handling for checkpoint-and-stop
 * (docs/ARCHITECTURE.md, "Reliability"; what Slurm's time limit, preemption and
 * `scancel --signal=USR1` send, and what mpirun forwards to the ranks).
 *
 * The handler only records the signal number in a sig_atomic_t; the round loop
 * polls it at round boundaries (hf_ckpt_round_end), where all ranks agree with
 * an MPI_Allreduce so they stop after the same round, write the checkpoint and
 * exit 3.  A second signal while the first is pending restores the default
 * action and re-raises it: the process dies at once (the last committed
 * checkpoint stays intact).
 */
#include "checkpoint.h"
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t pending;
static const int sigs[] = {SIGTERM, SIGUSR1, SIGINT};
#define NSIGS ((int)(sizeof sigs / sizeof *sigs))
static struct sigaction saved[NSIGS];
static int installed;

static void on_signal(int sig)
{
    if (pending) {  /* second signal: exit at once */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    pending = sig;
}

void hf_signals_install(void)
{
    pending = 0;               /* a new run starts with no stop request */
    if (installed) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;   /* MPI and file I/O calls continue */
    for (int i = 0; i < NSIGS; i++) sigaction(sigs[i], &sa, &saved[i]);
    installed = 1;
}

void hf_signals_restore(void)
{
    if (!installed) return;
    for (int i = 0; i < NSIGS; i++) sigaction(sigs[i], &saved[i], NULL);
    installed = 0;
    pending = 0;
}

int hf_signals_pending(void) { return (int)pending; }
