"""The ``bootstorm`` exit codes, shared by every subcommand.

0 done (and every SLO passed), 1 an SLO failed, 2 bad input (scenario, argument), 3 the
harness itself failed, 130 interrupted, 141 the reader of the output went away (a closed pipe:
the code a shell gives a command killed by SIGPIPE).
"""

__all__ = ["EXIT_OK", "EXIT_SLO_FAILED", "EXIT_BAD_INPUT", "EXIT_RUN_FAILED", "EXIT_INTERRUPTED",
           "EXIT_BROKEN_PIPE"]

EXIT_OK, EXIT_SLO_FAILED, EXIT_BAD_INPUT, EXIT_RUN_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_BROKEN_PIPE = 141
