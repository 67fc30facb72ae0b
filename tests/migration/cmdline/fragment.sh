# The running slot from a kernel command-line key the bootloader sets (rauc.slot=A|B).
case " $(cat @CMDLINE@) " in
	*" rauc.slot=A "*) SWUPDATE_ARGS="-v -e stable,copy2" ;;
	*" rauc.slot=B "*) SWUPDATE_ARGS="-v -e stable,copy1" ;;
esac
