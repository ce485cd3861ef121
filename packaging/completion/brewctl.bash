# bash completion for brewctl; the .deb installs it as /usr/share/bash-completion/completions/brewctl.
# Job names come from the running daemon (`brewctl _jobs`, 2 s at most), else the built-in six.

_brewctl_jobs() {
    local IFS=$'\n'
    COMPREPLY=($(compgen -W "$(brewctl "${socket[@]}" _jobs 2>/dev/null)" -- "$cur"))
}

_brewctl() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local commands="status health trigger history pause resume runs watch logs"
    local common="--socket --json --help"
    local -a socket=()
    local cmd="" positionals=0 i word
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        case $word in
            --socket)
                # COMP_WORDBREAKS splits --socket=PATH into three words.
                [[ ${COMP_WORDS[i+1]} == = ]] && ((i++))
                socket=(--socket "${COMP_WORDS[i+1]}")
                ((i++)) ;;
            -n | --interval | --run | --unit) ((i++)) ;;
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd=$word; else ((positionals++)); fi ;;
        esac
    done

    case $prev in
        --socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        =) [[ ${COMP_WORDS[COMP_CWORD-2]} == --socket ]] && COMPREPLY=($(compgen -f -- "$cur")) && return ;;
        -n | --interval | --run | --unit) return ;;
    esac

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$common --version" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi

    local options="$common"
    case $cmd in
        trigger) options+=" --no-wait" ;;
        history | runs) options+=" -n" ;;
        watch) options+=" -n --interval" ;;
        logs) options+=" --run -f --follow --unit" ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$options" -- "$cur"))
        return
    fi
    case $cmd in
        trigger | history | pause | resume | runs | logs)
            ((positionals == 0)) && _brewctl_jobs ;;
    esac
}

complete -F _brewctl brewctl
