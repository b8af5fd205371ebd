# What `cmake --install` places besides the two programs (daemon/CMakeLists.txt): the layout
# of a station PC, documented in docs/install.md and checked by tests/deploy/install.sh.
#
#   sbin/flashrackd, bin/flashrack                      programs
#   /etc/flashrack/flashrack.conf                       the station config (example values)
#   lib/systemd/system/flashrack.service                the unit (Type=notify, watchdog, hardening)
#   lib/udev/rules.d/70-flashrack.rules                 generated from the id tables at build time
#   lib/sysusers.d/flashrack.conf, lib/tmpfiles.d/flashrack.conf
#   share/flashrack/web/                                dashboard assets
#   share/doc/flashrack/                                the guides
#
# The unit and rules go below the prefix's lib/ (/usr/lib/systemd/system with prefix /usr), as
# Debian packages place them; the config always goes to /etc/flashrack (FLASHRACK_CONFIG_DIR).

if(NOT TARGET flashrack)
  return() # fuzz builds make only the fuzz targets
endif()

set(FLASHRACK_UDEV_RULES ${CMAKE_BINARY_DIR}/70-flashrack.rules)
add_custom_command(
  OUTPUT ${FLASHRACK_UDEV_RULES}
  COMMAND flashrack udev-rules > ${FLASHRACK_UDEV_RULES}
  DEPENDS flashrack
  COMMENT "udev rules from the drivers' USB id tables")
add_custom_target(udev_rules ALL DEPENDS ${FLASHRACK_UDEV_RULES})

install(FILES systemd/flashrack.service DESTINATION lib/systemd/system)
install(FILES ${FLASHRACK_UDEV_RULES} DESTINATION lib/udev/rules.d)
install(FILES systemd/flashrack.sysusers DESTINATION lib/sysusers.d RENAME flashrack.conf)
install(FILES systemd/flashrack.tmpfiles DESTINATION lib/tmpfiles.d RENAME flashrack.conf)
# The unit reads /etc/flashrack/flashrack.conf whatever the prefix; DESTDIR still applies.
set(FLASHRACK_CONFIG_DIR /etc/flashrack CACHE PATH "where the station config is installed")
install(FILES config/flashrack.conf DESTINATION ${FLASHRACK_CONFIG_DIR})
install(DIRECTORY web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/flashrack/web)
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md" PATTERN "*.png"
        PATTERN "*.yaml")
