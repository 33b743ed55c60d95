#!/bin/sh
# esemd under semaphore binding with two workers and FIFO hand-off (the
# default is process binding and barging order), for running the
# integration and POSIX suites against those modes too:
#   ESEMD=tests/esemd-semaphore.sh ESEMD_REAL=build/host/esemd ...
: "${ESEMD_REAL:?esemd-semaphore.sh: set ESEMD_REAL to the esemd binary}"
exec "$ESEMD_REAL" --binding=semaphore --workers 2 --order=fifo "$@"
