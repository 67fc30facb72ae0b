# swupdate unpacks into TMPDIR: moved off a small root file system.
export TMPDIR=/var/
