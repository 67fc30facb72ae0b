# Reference for scripts/bench, run by dash: the least a shell can do with the same conf.d set.
# No listing, no merge, no fork: the files to read come in as arguments, already merged and in
# order (gen-tree.py's read-order), and are sourced; then the stub is exec'd as swupdate.sh would
# exec swupdate.
#
# usage: dash dash-nofork.sh SWUPDATE_BIN FILE...
# shellcheck shell=dash disable=SC1090,SC2034,SC2086 # sourced fragments; swupdate.sh's own lines
_nf_bin=$1
shift
SWUPDATE_ARGS="-v ${SWUPDATE_EXTRA_ARGS}"
SWUPDATE_WEBSERVER_ARGS=""
SWUPDATE_SURICATTA_ARGS=""
for _nf_f; do
    . "$_nf_f"
done
exec "$_nf_bin" $SWUPDATE_ARGS
