# Boot counters reset at every start of swupdate (a command: the launcher refuses it as a fragment).
fw_setenv -c @FW_ENV_CONFIG@ bootcount 0
fw_setenv -c @FW_ENV_CONFIG@ upgrade_available 0
