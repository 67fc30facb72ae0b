# The running slot from a vendor tool (nvbootctrl-like: prints 0 or 1); the stub in this directory
# reads what the real tools read in the end: which partition / is.
slot=$(@PAIR_DIR@/current-slot)
if [ "$slot" = "0" ]; then
	SWUPDATE_ARGS="-v -e stable,copy2"
else
	SWUPDATE_ARGS="-v -e stable,copy1"
fi
