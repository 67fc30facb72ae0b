# swupdate's configuration file: the copy on /data if present, else the image's.
if [ -e /data/swupdate.cfg ]; then
	CFGFILE=/data/swupdate.cfg
else
	CFGFILE=/etc/swupdate.cfg
fi
SWUPDATE_ARGS="-v -f ${CFGFILE}"
