#!/bin/bash
# The bash completions complete: esemctl's commands and stats formats, esem's
# subcommand and the program after "esem run --".  Skips (77) without the
# bash-completion package (its _init_completion is what they use).
#   check-completion.sh TOOLS_SOURCE_DIR
set -u
bc=/usr/share/bash-completion/bash_completion
[ -r "$bc" ] || { echo "SKIP: bash-completion is not installed"; exit 77; }
# shellcheck disable=SC1090
source "$bc"
source "$1/completion/esemctl"
source "$1/completion/esem"
fails=0
expect() { # expect WANT FUNC WORDS...
  local want=$1 fn=$2; shift 2
  COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  "$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
  case " ${COMPREPLY[*]} " in
    *" $want "*) echo "ok   - $* -> $want" ;;
    *) echo "FAIL - $* -> '${COMPREPLY[*]}', want $want"; fails=$((fails + 1)) ;;
  esac
}
expect stats _esemctl esemctl st
expect ipcrm _esemctl esemctl ip
expect --format=prometheus _esemctl esemctl stats --format=p
expect --system _esemctl esemctl --sy
expect run _esem esem r
expect bash _esem esem run -- bas
[ "$fails" = 0 ]
