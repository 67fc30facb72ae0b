#!/bin/bash
# The honest bash peer of swupdate-launcher, for scripts/bench only: the three-stage design the
# launcher replaces (load_config_files, build_arguments into a bash array, exec), written as well
# as bash allows, with no forks: globbing instead of `ls | sort`, `-ef /dev/null` instead of
# readlink, a merge walk over two sorted listings instead of `sort -u`.
#
# It does what the launcher does for the benchmark's trees, not everything the launcher checks:
# EnvironmentFile (sourced: the benchmark's has plain KEY=value lines), the lib/etc merge with
# shadowing, masking and skipped names, the fragments sourced in byte-wise order, then the mode
# (daemon, file, download) and the argv.
#
# usage: three-stage.sh [ENVIRONMENT_FILE]

_ts_env_file=${1:-/etc/default/swupdate}
if [[ -r $_ts_env_file ]]; then
    # shellcheck disable=SC1090 # the EnvironmentFile named on the command line
    . "$_ts_env_file"
fi
: "${SWUPDATE_BIN:=/usr/bin/swupdate}"
: "${SWUPDATE_CONF_DIR_LIB:=/usr/lib/swupdate/conf.d}"
: "${SWUPDATE_CONF_DIR_ETC:=/etc/swupdate/conf.d}"
SWUPDATE_ARGS=-v
SWUPDATE_WEBSERVER_ARGS=
SWUPDATE_SURICATTA_ARGS=

_ts_fail() {
    echo "swupdate (three-stage): $2" >&2
    exit "$1"
}

# Never configuration: editor and package-manager leftovers (hidden files never match `*`).
_ts_skipped() {
    case ${1##*/} in
        *~ | *.bak | *.swp | *.dpkg-* | *.rpmnew | *.rpmsave) return 0 ;;
    esac
    return 1
}

# Stage 1: the merged conf.d set, sourced in byte-wise name order; an etc file shadows the lib
# file of the same name, an empty etc file or an etc symlink to /dev/null masks it.
load_config_files() {
    local LC_ALL=C
    shopt -s nullglob
    local -a _ts_lib=("$SWUPDATE_CONF_DIR_LIB"/*) _ts_etc=("$SWUPDATE_CONF_DIR_ETC"/*)
    shopt -u nullglob
    local _ts_i=0 _ts_j=0 _ts_nl=${#_ts_lib[@]} _ts_ne=${#_ts_etc[@]} _ts_l _ts_e _ts_f
    while ((_ts_i < _ts_nl || _ts_j < _ts_ne)); do
        _ts_l=${_ts_lib[_ts_i]##*/}
        _ts_e=${_ts_etc[_ts_j]##*/}
        if ((_ts_j >= _ts_ne)) || { ((_ts_i < _ts_nl)) && [[ $_ts_l < $_ts_e ]]; }; then
            _ts_f=${_ts_lib[_ts_i++]}
        elif ((_ts_i >= _ts_nl)) || [[ $_ts_e < $_ts_l ]]; then
            _ts_f=${_ts_etc[_ts_j++]}
            [[ -s $_ts_f && ! $_ts_f -ef /dev/null ]] || continue # a mask without a lib file
        else
            _ts_f=${_ts_etc[_ts_j++]}
            ((_ts_i++))
            if [[ ! -s $_ts_f || $_ts_f -ef /dev/null ]]; then
                continue # masked
            elif [[ ! -f $_ts_f ]]; then
                _ts_f=${_ts_lib[_ts_i - 1]} # a directory in etc does not hide the lib file
            fi
        fi
        _ts_skipped "$_ts_f" && continue
        [[ -f $_ts_f ]] || continue
        # shellcheck disable=SC1090 # the fragments are the point
        . "$_ts_f" || _ts_fail 65 "$_ts_f: failed"
    done
}

# Stage 2: the argv, as an array.
build_arguments() {
    args=("$SWUPDATE_BIN")
    [[ -n ${SWUPDATE_PUBLIC_KEY:-} ]] && args+=(-k "$SWUPDATE_PUBLIC_KEY")
    local -a words
    set -f
    # shellcheck disable=SC2206 # word splitting of the user's options is the point
    words=($SWUPDATE_ARGS ${SWUPDATE_EXTRA_ARGS:-})
    set +f
    args+=("${words[@]}")
    case ${SWUPDATE_SOURCE:-daemon} in
        file)
            [[ $UPDATE_FILE == /* ]] || _ts_fail 65 "UPDATE_FILE must be an absolute path"
            [[ -f $UPDATE_FILE && -r $UPDATE_FILE ]] || _ts_fail 66 "$UPDATE_FILE: not readable"
            args+=(-i "$UPDATE_FILE")
            ;;
        download)
            [[ $URL == http://* || $URL == https://* ]] || _ts_fail 65 "URL must be http(s)"
            local d="-u $URL"
            [[ -n ${SWUPDATE_DOWNLOAD_RETRIES:-} ]] && d+=" -r $SWUPDATE_DOWNLOAD_RETRIES"
            [[ -n ${SWUPDATE_DOWNLOAD_TIMEOUT:-} ]] && d+=" -t $SWUPDATE_DOWNLOAD_TIMEOUT"
            args+=(-d "$d")
            ;;
        daemon)
            [[ -n $SWUPDATE_WEBSERVER_ARGS ]] && args+=(-w "$SWUPDATE_WEBSERVER_ARGS")
            [[ -n $SWUPDATE_SURICATTA_ARGS ]] && args+=(-u "$SWUPDATE_SURICATTA_ARGS")
            ;;
        *) _ts_fail 65 "SWUPDATE_SOURCE=$SWUPDATE_SOURCE: file, download or daemon" ;;
    esac
}

# Stage 3: exec, same PID, inherited descriptors.
load_config_files
build_arguments
exec "${args[@]}"
