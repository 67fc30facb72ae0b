# The running slot from the U-Boot environment (the variable the boot script sets to the slot it booted).
part=$(fw_printenv -c @FW_ENV_CONFIG@ -n boot_part)
if [ "$part" = "A" ]; then
	SWUPDATE_ARGS="-v -e stable,copy2"
else
	SWUPDATE_ARGS="-v -e stable,copy1"
fi
