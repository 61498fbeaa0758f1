# bash completion for agentbox
_agentbox() {
    local cur prev verb i
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    local verbs="init run shell exec policy reload denied allow check status logs down prune bump doctor version help"
    local agents="claude codex gemini opencode none"

    verb=
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --engine) ((i++)) ;;
            --) break ;;
            -*) ;;
            *) verb=${COMP_WORDS[i]}; break ;;
        esac
    done

    case $prev in
        --engine) COMPREPLY=($(compgen -W "docker podman" -- "$cur")); return ;;
        --dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --policy|--env-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --agent) COMPREPLY=($(compgen -W "$agents" -- "$cur")); return ;;
        --mode) COMPREPLY=($(compgen -W "compose devcontainer both" -- "$cur")); return ;;
        -e|--env) COMPREPLY=($(compgen -v -- "$cur")); return ;;
        --image|--expose|--since) return ;;
    esac

    case $verb in
        "") COMPREPLY=($(compgen -W "$verbs --engine --help --version" -- "$cur")) ;;
        help) COMPREPLY=($(compgen -W "$verbs" -- "$cur")) ;;
        init) COMPREPLY=($(compgen -W "--agent --mode --dir --force --help" -- "$cur")) ;;
        run) COMPREPLY=($(compgen -W "$agents --image --policy -e --env --env-file --expose --keep -v --verbose --network --dns --dir --help --" -- "$cur")) ;;
        shell|exec) COMPREPLY=($(compgen -W "--dir --help --" -- "$cur")) ;;
        policy)
            if [[ $prev == policy ]]; then
                COMPREPLY=($(compgen -W "show validate add remove --dir --help" -- "$cur"))
            elif [[ " ${COMP_WORDS[*]} " == *" validate "* ]]; then
                COMPREPLY=($(compgen -f -- "$cur"))
            else
                COMPREPLY=($(compgen -W "--json --dir" -- "$cur"))
            fi ;;
        status) COMPREPLY=($(compgen -W "--json --dir --help" -- "$cur")) ;;
        denied) COMPREPLY=($(compgen -W "--json -f --follow --since --dir --help" -- "$cur")) ;;
        allow|check) COMPREPLY=($(compgen -W "--dir --help" -- "$cur")) ;;
        logs) COMPREPLY=($(compgen -W "-f --follow --dir --help" -- "$cur")) ;;
        prune) COMPREPLY=($(compgen -W "--volumes --help" -- "$cur")) ;;
        reload|down|bump) COMPREPLY=($(compgen -W "--dir --help" -- "$cur")) ;;
        doctor|version) COMPREPLY=($(compgen -W "--help" -- "$cur")) ;;
    esac
}
complete -F _agentbox agentbox
