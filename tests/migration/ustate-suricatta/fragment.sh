# The widely copied template: ustate=1 (just installed) makes suricatta report success at once
# (-c 2), with no health check; otherwise suricatta with the configuration file's settings.
state=$(fw_printenv -c @FW_ENV_CONFIG@ ustate | cut -f 2 -d'=')
if [ "$state" = 1 ]; then
	SWUPDATE_SURICATTA_ARGS="-c 2"
else
	SWUPDATE_SURICATTA_ARGS=" "
fi
