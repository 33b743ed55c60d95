#!/bin/sh
# esemd under semaphore binding with two workers, for running the
# integration and POSIX suites against that mode too:
#   ESEMD=tests/esemd-semaphore.sh ESEMD_REAL=build/host/esemd ...
: "${ESEMD_REAL:?esemd-semaphore.sh: set ESEMD_REAL to the esemd binary}"
exec "$ESEMD_REAL" --binding=semaphore --workers 2 "$@"
