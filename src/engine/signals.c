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
 * checkpoint stays intact, a temporary results file is removed).
 *
 * main() installs the handlers before MPI_Init, so a signal that arrives while
 * the run starts (MPI start-up, data loading, setup) is not lost to the
 * default action (143/138): hf_signals_stop_early() turns it into exit 3 with
 * a message before the first round, nothing to resume, a clean restart.
 */
#include "checkpoint.h"
#include "hf_util.h"
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
        hf_fail_cleanup();  /* no PATH.tmp-PID left (unlink: async-signal-safe) */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    pending = sig;
}

void hf_signals_install(void)
{
    if (installed) return;     /* a signal received since main() stays pending */
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

const char *hf_signals_name(int sig)
{
    return sig == SIGTERM ? "SIGTERM" : sig == SIGUSR1 ? "SIGUSR1" : sig == SIGINT ? "SIGINT" : "a signal";
}

int hf_signals_stop_early(MPI_Comm comm, const char *what, int resume)
{
    int sig = (int)pending, any = 0;
    MPI_Allreduce(&sig, &any, 1, MPI_INT, MPI_MAX, comm);
    if (!any) return 0;
    int rc = hf_seterr(HF_ESIGNAL, "stopped by %s %s, before the first round; %s", hf_signals_name(any), what,
                       resume ? "the results file is as it was" : "no results file was written");
    hf_addhint("%s", resume ? "resume again with the same command" :
               "nothing to resume: run the same command again");
    return rc;
}
