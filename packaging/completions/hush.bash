# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# bash completion for hush and hushd.  The options come from the programs'
# own --help, so they never fall behind; values where hush knows them.

_hush_opts() {
	# The long options a usage text names (--foo, --foo=), once each.
	"$@" --help 2>/dev/null | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

_hush_value() {
	# Values of an option: 0 if completed here, 1 if prev takes no value.
	local prev=$1 cur=$2
	case $prev in
	--mode) mapfile -t COMPREPLY < <(compgen -W 'enforce audit' -- "$cur") ;;
	--by) mapfile -t COMPREPLY < <(compgen -W 'dest process container unit' -- "$cur") ;;
	--kind) mapfile -t COMPREPLY < <(compgen -W 'attempt gap note' -- "$cur") ;;
	--format) mapfile -t COMPREPLY < <(compgen -W 'table json csv syslog' -- "$cur") ;;
	--framing) mapfile -t COMPREPLY < <(compgen -W 'lf octet-counted' -- "$cur") ;;
	--facility)
		mapfile -t COMPREPLY < <(compgen -W 'authpriv auth daemon user local0 local1 local2 local3 local4 local5 local6 local7' -- "$cur") ;;
	--dns-deny) mapfile -t COMPREPLY < <(compgen -W 'refused nxdomain' -- "$cur") ;;
	--policy | --events | --json | --junit | --db | --metrics-file | --head | --cursor)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
	--pin-dir | --run-dir | --cgroup | --cgroup-parent)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
	--user) mapfile -t COMPREPLY < <(compgen -u -- "$cur") ;;
	--since | --until | --timeout | --grace | --observe | --retain | --older-than | \
		--max-size | --max-db-size | --limit | --pid | --port | --comm | --exe | --container | \
		--unit | --dest | --dns | --name | --ready | --keep-cap | --ringbuf-size | --dns-grace | \
		--after-id | --sd-id)
		COMPREPLY=() ;;
	*) return 1 ;;
	esac
	return 0
}

_hush() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local i w cmd='' sub='' dashdash=0 nw=0
	COMPREPLY=()
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--) dashdash=$i; break ;;
		--pin-dir | --run-dir) i=$((i + 1)) ;;
		-*) ;;
		*)
			if [ -z "$cmd" ]; then cmd=$w
			elif [ -z "$sub" ] && { [ "$cmd" = log ] || [ "$cmd" = policy ]; }; then sub=$w
			else nw=$((nw + 1))
			fi ;;
		esac
	done
	# After "--": the command to run, then its own arguments.
	if [ "$dashdash" -gt 0 ]; then
		if [ $((COMP_CWORD - dashdash)) -eq 1 ]; then
			mapfile -t COMPREPLY < <(compgen -c -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		fi
		return 0
	fi
	_hush_value "$prev" "$cur" && return 0
	if [ -z "$cmd" ]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W '--pin-dir --run-dir --verbose --version --help' -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W 'status policy run test disable log help version' -- "$cur")
		fi
		return 0
	fi
	case $cmd in
	policy)
		if [ -z "$sub" ]; then
			mapfile -t COMPREPLY < <(compgen -W 'check show apply --help' -- "$cur")
		elif [ "$sub" = check ] || { [ "$sub" = apply ] && [ "$nw" = 0 ]; }; then
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		fi
		return 0 ;;
	log)
		if [ -z "$sub" ] && [[ $cur != -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W 'top verify prune' -- "$cur")
			return 0
		fi ;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_hush_opts "${COMP_WORDS[0]}" "$cmd")" -- "$cur")
	fi
	return 0
}

_hushd() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()
	_hush_value "$prev" "$cur" && return 0
	mapfile -t COMPREPLY < <(compgen -W "$(_hush_opts "${COMP_WORDS[0]}")" -- "$cur")
	return 0
}

complete -F _hush hush
complete -F _hushd hushd
