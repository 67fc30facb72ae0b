# The running slot from the device of / (meta-swupdate-boards' pattern: `swupdate -g`).
rootfs=$(swupdate -g)
if [ "$rootfs" = "@SLOT_A@" ]; then
	selection="-e stable,copy2"
else
	selection="-e stable,copy1"
fi
SWUPDATE_ARGS="-v ${selection}"
